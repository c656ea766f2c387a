#!/bin/sh
# Everything `host_status` reports, in one round trip.
# Run as `sh -c HOST_STATUS nix-deploy-status PROFILE`.
# Arguments: PROFILE, the system profile (/nix/var/nix/profiles/system).
# Output: sections, each a line `@@NAME` followed by its lines (empty when its command failed):
#   @@current      the target of /run/current-system
#   @@generations  `nix-env -p PROFILE --list-generations`
#   @@links        `PROFILE-N-link STORE-PATH` for each generation's link
#   @@failed       `systemctl --failed --no-legend --plain`
#   @@state        `systemctl is-system-running`
#   @@nix          `nix --version`
# Exit status: 0 (a missing command leaves its section empty).
profile="$1"
echo "@@current"; readlink /run/current-system
echo "@@generations"; nix-env -p "$profile" --list-generations 2>/dev/null
echo "@@links"; for link in "$profile"-*-link; do [ -L "$link" ] && printf '%s %s\n' "$link" "$(readlink "$link")"; done
echo "@@failed"; systemctl --failed --no-legend --plain 2>/dev/null
echo "@@state"; systemctl is-system-running 2>/dev/null
echo "@@nix"; nix --version 2>/dev/null
exit 0
