#!/bin/sh
# Everything `host_status` reports, in one round trip.
# Run as `sh -c HOST_STATUS nix-deploy-status PROFILE`.
# Arguments: PROFILE, the system profile (/nix/var/nix/profiles/system).
# Output: sections, each a line `@@NAME` followed by its lines (empty when its command failed):
#   @@current      the target of /run/current-system
#   @@generations  `nix-env -p PROFILE --list-generations`, or the same listing made from the links
#                  when nix-env may not lock the profile (a login user other than root)
#   @@links        `PROFILE-N-link STORE-PATH` for each generation's link
#   @@failed       `systemctl --failed --no-legend --plain`
#   @@state        `systemctl is-system-running`
#   @@nix          `nix --version`
# Exit status: 0 (a missing command leaves its section empty).
profile="$1"
# nix-env locks the profile to list it, which a login user other than root may not: the same
# listing from the links themselves (a generation's date is its link's mtime, as nix-env shows it).
generations_from_links() {
  for link in "$profile"-*-link; do
    [ -L "$link" ] || continue
    number=${link#"$profile"-}; number=${number%-link}
    mark=; [ "$(readlink "$profile")" = "${link##*/}" ] && mark="(current)"
    printf '%5s   %s   %s\n' "$number" "$(date -d "@$(stat -c %Y "$link")" '+%Y-%m-%d %H:%M:%S')" "$mark"
  done | sort -n
}
echo "@@current"; readlink /run/current-system
echo "@@generations"; nix-env -p "$profile" --list-generations 2>/dev/null || generations_from_links
echo "@@links"; for link in "$profile"-*-link; do [ -L "$link" ] && printf '%s %s\n' "$link" "$(readlink "$link")"; done
echo "@@failed"; systemctl --failed --no-legend --plain 2>/dev/null
echo "@@state"; systemctl is-system-running 2>/dev/null
echo "@@nix"; nix --version 2>/dev/null
exit 0
