#!/bin/sh
# home-manager-activate.sh: returns a user to one of their home-manager generations, as
# Run as `sh -c SCRIPT nix-deploy-home-activate USER GENERATION_PATH`.
# home-manager's own rollback does: that generation's `activate` script, run as the user, which
# links the files and points the user's home-manager profile at the generation (a new profile
# generation, as home-manager records every switch).
# Arguments: USER GENERATION (the generation's store path, /nix/store/...-home-manager-generation).
# Runs as root (any user then) or as USER. Output: the activation's own lines. Exit status: the
# activation's; 2 when the arguments do not name a user and a generation.
user=$1 generation=$2
case "$generation" in
  /nix/store/*) ;;
  *) echo "not a store path: $generation" >&2; exit 2 ;;
esac
if [ ! -x "$generation/activate" ]; then
  echo "$generation has no activate script: not a home-manager generation" >&2
  exit 2
fi
entry=$({ getent passwd "$user" 2>/dev/null || grep "^$user:" /etc/passwd; } | head -n 1)
home=$(printf '%s\n' "$entry" | cut -d: -f6)
if [ -z "$home" ]; then
  echo "no user $user on this machine" >&2
  exit 2
fi
# The activation checks that USER and HOME are the user's own; it finds nix-env and friends on PATH.
if [ "$(id -un)" = "$user" ]; then
  exec env HOME="$home" USER="$user" LOGNAME="$user" "$generation/activate"
elif [ "$(id -u)" = 0 ] && command -v runuser >/dev/null 2>&1; then
  cd / && exec runuser -u "$user" -- env HOME="$home" USER="$user" LOGNAME="$user" PATH="$PATH" "$generation/activate"
else
  echo "cannot act as $user: run as root (with runuser) or as $user" >&2
  exit 2
fi
