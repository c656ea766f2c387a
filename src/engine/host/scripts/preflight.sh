#!/bin/sh
# What a preflight check needs to know of a host: whether Nix is there and the space left for a
# closure, and with `settings` the Nix settings it runs with. Run as `sh -c PREFLIGHT
# nix-deploy-preflight [settings]`.
# Arguments: `settings` to print the host's Nix settings too (a host with a binary cache).
# Output: two lines:
#   `nix --version` (`nix (Nix) 2.24.9`), or `none` when no nix is on PATH
#   the line of `df -Pk /nix` for the file system holding /nix (its 4th field: KiB available);
#   an empty line when /nix does not exist
# then, with `settings`, the `name = value` lines of `nix show-config` (Nix before 2.20; `nix config
# show` after), nothing when neither runs.
# Exit status: 0.
nix --version 2>/dev/null || echo none
disk=$(df -Pk /nix 2>/dev/null | tail -n 1)
echo "$disk"
if [ "${1-}" = settings ]; then
  nix --extra-experimental-features nix-command show-config 2>/dev/null ||
    nix --extra-experimental-features nix-command config show 2>/dev/null
fi
exit 0
