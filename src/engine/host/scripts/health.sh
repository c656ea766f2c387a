#!/bin/sh
# A host's health after (and resources before) an activation, in one round trip.
# Run as `sh -c HEALTH nix-deploy-health UNIT...`, or `... --resources` for the resource sections
# alone (the probe before a deployment: activation.sh pending).
# Arguments: the critical services (systemd unit names) whose state to report; none is fine.
# Output: sections, each a line `@@NAME` followed by its lines:
#   @@failed    `systemctl --failed --no-legend --plain` (empty when the state is `running`)
#   @@state     `systemctl is-system-running`
#   @@critical  `UNIT STATE` for each argument (`systemctl is-active`; empty state if unknown)
#   @@meminfo   the MemTotal and MemAvailable lines of /proc/meminfo
#   @@disk      `df -Pk /nix`: a header line, then the file system holding /nix
#   @@load      /proc/loadavg
#   @@cpus      the number of processors online, or `online RANGES` (/sys/devices/system/cpu/online)
# Exit status: 0 (a missing command leaves its section empty).
#
# Files are read with the shell's own `read`, and every unit's state comes from one systemctl: each
# process costs the host CPU, and a fleet deployment multiplies it.
if [ "${1:-}" = --resources ]; then
  shift
else
  # A system that is `running` has no failed unit (one failed unit makes it `degraded`): the list
  # is asked for only when the state is something else.
  state=$(systemctl is-system-running 2>/dev/null)
  echo "@@failed"; [ "$state" = running ] || systemctl --failed --no-legend --plain 2>/dev/null
  echo "@@state"; [ -z "$state" ] || echo "$state"
  echo "@@critical"
  if [ "$#" -gt 0 ]; then
    # One answer line per unit, in the order asked.
    systemctl is-active "$@" 2>/dev/null | {
      for unit in "$@"; do
        state=
        read -r state
        printf '%s %s\n' "$unit" "$state"
      done
    }
  fi
fi
echo "@@meminfo"
while read -r key value unit; do
  case $key in
    MemTotal:) echo "$key $value $unit" ;;
    MemAvailable:) echo "$key $value $unit"; break ;;
  esac
done 2>/dev/null </proc/meminfo
echo "@@disk"; df -Pk /nix 2>/dev/null
echo "@@load"; read -r load 2>/dev/null </proc/loadavg && echo "$load"
echo "@@cpus"
if read -r online 2>/dev/null </sys/devices/system/cpu/online; then echo "online $online"; else nproc 2>/dev/null; fi
exit 0
