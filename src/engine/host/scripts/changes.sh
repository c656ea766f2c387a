#!/bin/sh
# What activating NEW on a host running OLD changes, computed on the host, which holds both
# closures. Run as `sh -c CHANGES nix-deploy-changes OLD NEW`.
# Arguments: OLD and NEW, system store paths.
# Output: two sections:
#   @@packages  `nix store diff-closures OLD NEW` (with its errors: they say why nothing compared)
#   @@units     one line `ACTION UNIT` per unit of NEW's or OLD's etc/systemd/system that changes,
#               ACTION being start | stop | restart | reload | changed-no-restart
# Exit status: 0.
#
# Units are compared as switch-to-configuration does, in broad strokes: a new unit starts, a removed
# one stops, a changed one restarts (or reloads, or neither when it says X-RestartIfChanged=false).
# A NixOS system links each unit to a file of its own in the store: a unit both systems link to the
# same file (`-ef`, the shell's own test) is unchanged without reading it, and so is the whole
# directory when both systems share it. Only the rest is compared byte by byte, one `cmp` each.
# `-ef` is not in POSIX, but in every sh a NixOS host has: bash (its /bin/sh), dash, busybox ash.
# shellcheck disable=SC3013
unit_changes() {
  old="$1/etc/systemd/system"; new="$2/etc/systemd/system"
  [ ! "$old" -ef "$new" ] || return 0
  for f in "$new"/*; do
    [ -f "$f" ] || continue
    unit=${f##*/}
    if [ ! -e "$old/$unit" ]; then echo "start $unit"
    elif [ ! "$old/$unit" -ef "$f" ] && ! cmp -s "$old/$unit" "$f"; then
      if grep -q '^X-ReloadIfChanged=true' "$f"; then echo "reload $unit"
      elif grep -q '^X-RestartIfChanged=false' "$f"; then echo "changed-no-restart $unit"
      else echo "restart $unit"; fi
    fi
  done
  for f in "$old"/*; do
    [ -f "$f" ] || continue
    unit=${f##*/}
    [ -e "$new/$unit" ] || echo "stop $unit"
  done
}
echo "@@packages"; nix --extra-experimental-features nix-command store diff-closures "$1" "$2" 2>&1
echo "@@units"; unit_changes "$1" "$2"
exit 0
