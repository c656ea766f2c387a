#!/bin/sh
# What a preflight check needs to know of a host: whether Nix is there and the space left for a
# closure. Run as `sh -c PREFLIGHT nix-deploy-preflight`.
# Arguments: none.
# Output: two lines:
#   `nix --version` (`nix (Nix) 2.24.9`), or `none` when no nix is on PATH
#   the line of `df -Pk /nix` for the file system holding /nix (its 4th field: KiB available);
#   nothing when /nix does not exist
# Exit status: 0.
nix --version 2>/dev/null || echo none
df -Pk /nix 2>/dev/null | tail -n 1
exit 0
