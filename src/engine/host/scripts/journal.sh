#!/bin/sh
# The last journal lines of units that failed. Run as `sh -c JOURNAL nix-deploy-journal UNIT...`.
# Arguments: systemd unit names.
# Output: for each UNIT a line `@@UNIT`, then `journalctl -u UNIT -n 50 --no-pager` (nothing when
#   the journal cannot be read).
# Exit status: 0.
for unit in "$@"; do
  echo "@@$unit"
  journalctl -u "$unit" -n 50 --no-pager 2>/dev/null
done
exit 0
