#!/bin/sh
# home-generations.sh: the home-manager generations of every user of the machine, read-only.
# Run as `sh -c SCRIPT nix-deploy-home-generations`.
# Exit status: 0 always (a profile that cannot be read is left out).
# Arguments: none. Looks where home-manager keeps a standalone profile: the per-user profile
# directory /nix/var/nix/profiles/per-user/USER/home-manager (older home-manager) and
# ~/.local/state/nix/profiles/home-manager (Nix 2.14 and later). A profile the caller cannot read
# is skipped.
# Output, tab-separated, one line each:
#   profile<TAB>USER<TAB>PROFILE<TAB>the generation link it points at now (PROFILE-N-link)
#   generation<TAB>USER<TAB>PROFILE<TAB>NUMBER<TAB>DATE (host-local, YYYY-MM-DD HH:MM:SS)<TAB>STORE PATH
# Always exits 0.
list_profile() {
  user=$1 profile=$2
  [ -L "$profile" ] || return 0
  printf 'profile\t%s\t%s\t%s\n' "$user" "$profile" "$(readlink "$profile")"
  for link in "$profile"-*-link; do
    [ -L "$link" ] || continue
    number=${link#"$profile"-}
    number=${number%-link}
    case "$number" in *[!0-9]* | "") continue ;; esac
    stamp=$(stat -c %Y "$link" 2>/dev/null) || continue
    printf 'generation\t%s\t%s\t%s\t%s\t%s\n' "$user" "$profile" "$number" \
      "$(date -d "@$stamp" '+%Y-%m-%d %H:%M:%S')" "$(readlink -f "$link")"
  done
}

for dir in /nix/var/nix/profiles/per-user/*; do
  [ -d "$dir" ] && list_profile "${dir##*/}" "$dir/home-manager"
done
{ getent passwd 2>/dev/null || cat /etc/passwd; } | while IFS=: read -r user _ _ _ _ home _; do
  [ -n "$home" ] && [ "$home" != / ] && list_profile "$user" "$home/.local/state/nix/profiles/home-manager"
done
exit 0
