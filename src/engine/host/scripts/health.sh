#!/bin/sh
# A host's health after (and resources before) an activation, in one round trip.
# Run as `sh -c HEALTH nix-deploy-health UNIT...`.
# Arguments: the critical services (systemd unit names) whose state to report; none is fine.
# Output: sections, each a line `@@NAME` followed by its lines:
#   @@failed    `systemctl --failed --no-legend --plain`
#   @@state     `systemctl is-system-running`
#   @@critical  `UNIT STATE` for each argument (`systemctl is-active`; empty state if unknown)
#   @@meminfo   the MemTotal and MemAvailable lines of /proc/meminfo
#   @@disk      the line of `df -Pk /nix` for the file system holding /nix
#   @@load      /proc/loadavg
#   @@cpus      the number of processors online
# Exit status: 0 (a missing command leaves its section empty).
echo "@@failed"; systemctl --failed --no-legend --plain 2>/dev/null
echo "@@state"; systemctl is-system-running 2>/dev/null
echo "@@critical"; for unit in "$@"; do printf '%s %s\n' "$unit" "$(systemctl is-active "$unit" 2>/dev/null || true)"; done
echo "@@meminfo"; grep -E '^(MemTotal|MemAvailable):' /proc/meminfo
echo "@@disk"; df -Pk /nix 2>/dev/null | tail -n 1
echo "@@load"; cat /proc/loadavg
echo "@@cpus"; nproc 2>/dev/null || getconf _NPROCESSORS_ONLN
exit 0
