#!/bin/sh
# upload-key.sh: puts one key in place on the host; its content arrives on stdin.
# Run as `sh -c SCRIPT nix-deploy-upload-key DEST_DIR NAME USER GROUP MODE [reload|restart UNIT]`.
#
# Arguments: DEST_DIR NAME USER GROUP MODE [reload|restart UNIT]
#   The key becomes DEST_DIR/NAME, owned by USER:GROUP, with MODE (octal: 0600, 640). With the last
#   pair, UNIT is reloaded (or restarted if it cannot reload) or restarted afterwards, if it runs.
# Stdin: the key's content. Never an argument: every user of the host can read arguments in /proc.
# Output: nothing on success; the reason on stderr otherwise.
# Exit status: 0 the key is in place; 3 USER does not exist; 4 GROUP does not exist (both checked
#   before anything is written); 5 the key is in place but UNIT's reload or restart failed; any
#   other: the key was not written (a key already there is untouched).
#
# The content goes into a new temporary file in DEST_DIR, created under a umask that already takes
# away what MODE denies the group and others; its owner and mode are set, then it is renamed over
# DEST_DIR/NAME. A reader sees the old key or all of the new one, never a partial or more readable
# file. A missing DEST_DIR is created as colmena's uploader does: 0750 under /run/keys (NixOS makes
# /run/keys 0750 itself), 0755 elsewhere.
set -eu
dest_dir=$1 name=$2 user=$3 group=$4 mode=$5

if ! getent passwd "$user" >/dev/null 2>&1; then
  echo "the user $user does not exist on this host" >&2
  exit 3
fi
if ! getent group "$group" >/dev/null 2>&1; then
  echo "the group $group does not exist on this host" >&2
  exit 4
fi

target="$dest_dir/$name"
if [ -d "$target" ] && [ ! -L "$target" ]; then
  echo "$target is a directory" >&2
  exit 1
fi
if [ ! -d "$dest_dir" ]; then
  case "$dest_dir" in
    /run/keys | /run/keys/*) dir_mode=0750 ;;
    *) dir_mode=0755 ;;
  esac
  # Only the key's own directory gets the mode; parents are created as the system's defaults make them.
  # shellcheck disable=SC2174
  mkdir -p -m "$dir_mode" -- "$dest_dir"
fi

# The owner (root, or whoever writes) keeps read and write until chmod; group and others never get
# more than MODE gives them. Shell arithmetic reads a leading 0 as octal.
umask "$(printf '%04o' $((0777 & ~(0$mode | 0600))))"
tmp="$dest_dir/.$name.upload-$$"
# noclobber: the temporary file is new (O_EXCL), never a file or link someone else put there; only
# once it is ours does a failure remove it.
set -C
{
  trap 'rm -f -- "$tmp"' EXIT
  cat
} >"$tmp"
set +C
chown -- "$user:$group" "$tmp"
chmod -- "$mode" "$tmp"
mv -f -- "$tmp" "$target"
trap - EXIT

if [ $# -ge 7 ]; then
  case "$6" in
    reload) verb=try-reload-or-restart ;;
    *) verb=try-restart ;;
  esac
  if ! systemctl "$verb" -- "$7"; then
    echo "systemctl $verb $7 failed" >&2
    exit 5
  fi
fi
