#!/bin/sh
# The system a host runs and the generation its profile points at, cheaply (many hosts at once).
# Run as `sh -c PROBE nix-deploy-probe PROFILE`.
# Arguments: PROFILE, the system profile (/nix/var/nix/profiles/system).
# Output: two lines, each empty when its link does not exist:
#   the target of /run/current-system (a store path)
#   the target of PROFILE (`system-12-link`: generation 12)
# Exit status: 0 (a host without the links is reported, not an error).
#
# Each line is printed also when readlink prints nothing, so that the second line is always the
# profile's (a host without /run/current-system is not a NixOS host, which the deployer must see).
printf '%s\n' "$(readlink /run/current-system)" "$(readlink "$1")"
exit 0
