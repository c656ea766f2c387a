#!/bin/sh
# facts.sh: what a machine is, read-only, for host_facts and install_host.
# Run as `sh -c SCRIPT nix-deploy-facts`.
# Exit status: 0 always.
# Arguments: none. Runs as any user; facts that need root or a missing tool say "unknown".
# Output: one line per fact, NAME<TAB>SOURCE<TAB>VALUE, where SOURCE says where the value was read
# (a file or a command). A name can repeat (disk, pci, tool). Always exits 0.
fact() { printf '%s\t%s\t%s\n' "$1" "$2" "$3"; }
has() { command -v "$1" >/dev/null 2>&1; }
os_field() { sed -n "s/^$1=//p" /etc/os-release 2>/dev/null | head -n 1 | tr -d '"'; }

if [ -e /etc/NIXOS ]; then fact nixos /etc/NIXOS yes; else fact nixos /etc/NIXOS no; fi
if [ -r /etc/os-release ]; then
  fact os-id /etc/os-release "$(os_field ID)"
  fact os-variant /etc/os-release "$(os_field VARIANT_ID)"
  fact os-name /etc/os-release "$(os_field PRETTY_NAME)"
else
  fact os-id /etc/os-release unknown
fi
# A kexec'd nixos-images installer marks itself so.
if [ -e /etc/is_kexec ]; then fact kexec /etc/is_kexec yes; else fact kexec /etc/is_kexec no; fi
fact kernel "uname -s" "$(uname -s 2>/dev/null || echo unknown)"
fact arch "uname -m" "$(uname -m 2>/dev/null || echo unknown)"
fact uid "id -u" "$(id -u 2>/dev/null || echo unknown)"

if [ -r /proc/cpuinfo ]; then
  model=$(sed -nE 's/^(model name|Model|Hardware|cpu model)[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)
  fact cpu-model /proc/cpuinfo "${model:-unknown}"
  fact cpu-cores /proc/cpuinfo "$(grep -c '^processor' /proc/cpuinfo)"
else
  fact cpu-model /proc/cpuinfo unknown
fi
memory=$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\) kB$/\1/p' /proc/meminfo 2>/dev/null)
fact memory-kib /proc/meminfo "${memory:-unknown}"

if [ -d /sys/firmware/efi ]; then fact boot /sys/firmware/efi efi; else fact boot /sys/firmware/efi bios; fi

# Disks by their stable ids, whole disks only (partitions end in -partN); the size from lsblk, else
# from sysfs. The kernel name (nvme0n1) is only there to tell which ids are the same disk.
sizes=""
if has lsblk; then sizes=$(lsblk -b -d -n -o NAME,SIZE 2>/dev/null); fi
if [ -d /dev/disk/by-id ]; then
  for link in /dev/disk/by-id/*; do
    [ -L "$link" ] || continue
    id=${link##*/}
    case "$id" in *-part[0-9]*) continue ;; esac
    device=$(readlink -f "$link" 2>/dev/null)
    device=${device##*/}
    size=$(printf '%s\n' "$sizes" | awk -v d="$device" '$1 == d { print $2; exit }')
    source=lsblk
    if [ -z "$size" ] && [ -r "/sys/class/block/$device/size" ]; then
      size=$(($(cat "/sys/class/block/$device/size") * 512))
      source=/sys/class/block
    fi
    fact disk "$source" "$id $device ${size:-unknown}"
  done
else
  fact disk /dev/disk/by-id none
fi

# GPUs: lspci's device lines with their kernel drivers; NVIDIA's driver state from nvidia-smi.
if has lspci; then
  lspci -nnk 2>/dev/null | while IFS= read -r line; do fact pci "lspci -nnk" "$line"; done
else
  fact pci "lspci -nnk" unknown
fi
if has nvidia-smi; then
  if out=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1); then
    printf '%s\n' "$out" | while IFS= read -r line; do fact nvidia-smi nvidia-smi "$line"; done
  else
    fact nvidia-smi-error nvidia-smi "$(printf '%s\n' "$out" | head -n 1)"
  fi
fi

if has nix; then fact nix-version "nix --version" "$(nix --version 2>/dev/null | head -n 1)"; else fact nix-version "nix --version" unknown; fi
fact current-system /run/current-system "$(readlink /run/current-system 2>/dev/null || echo none)"
fact system-profile /nix/var/nix/profiles/system "$(readlink /nix/var/nix/profiles/system 2>/dev/null || echo none)"
free=$(df -Pk /nix 2>/dev/null | awk 'NR == 2 { print $4 }')
fact nix-free-kib "df -Pk /nix" "${free:-unknown}"

# Does the first substituter answer? A short timeout: a cache that does not answer in 5 s is as
# good as down for an installation.
substituters=""
if has nix; then
  substituters=$(nix --extra-experimental-features nix-command config show substituters 2>/dev/null ||
    nix --extra-experimental-features nix-command show-config 2>/dev/null | sed -n 's/^substituters = //p')
fi
cache=$(printf '%s\n' "$substituters" | tr ' ' '\n' | grep -E '^https?://' | head -n 1)
cache=${cache%/}
if [ -z "$cache" ]; then
  fact cache nix.conf none
elif has curl; then
  if curl -fsS -m 5 -o /dev/null "$cache/nix-cache-info" 2>/dev/null; then fact cache "$cache" yes; else fact cache "$cache" no; fi
elif has wget; then
  if wget -q -T 5 -O /dev/null "$cache/nix-cache-info" 2>/dev/null; then fact cache "$cache" yes; else fact cache "$cache" no; fi
else
  fact cache "$cache" unknown
fi

for tool in nixos-facter nvidia-smi lspci lsblk curl wget tar setsid sudo; do
  if has "$tool"; then fact tool "command -v" "$tool yes"; else fact tool "command -v" "$tool no"; fi
done
exit 0
