#!/usr/bin/env bash
# Installs what nix-deploy and its simulated fleet need on Debian/Ubuntu: Nix (nix-bin), OpenSSH
# (server and client), git, sudo, and shellcheck (which checks the scripts nix-deploy runs on hosts);
# then the npm dependencies. Safe to run again: it installs only what is missing,
# and npm packages only when node_modules does not match package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v nix >/dev/null 2>&1 || missing+=(nix-bin)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
# The simulated fleet's login users gain root with a real sudo; openssl hashes their passwords.
command -v sudo >/dev/null 2>&1 || missing+=(sudo)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing ${missing[*]}; install them (as root: apt-get install ${missing[*]})" >&2
    echo "setup: the simulated-fleet tests will be skipped without them" >&2
  fi
fi

# Nix run as root builds as the members of the group 'nixbld' (its default build-users-group), as a
# multi-user install does; Debian's nix-bin does not create them (its nix-setup-systemd does).
if [ "$(id -u)" -eq 0 ] && command -v groupadd >/dev/null 2>&1 && ! getent group nixbld >/dev/null; then
  echo "setup: creating the nixbld group and its build users" >&2
  groupadd --system nixbld
  for i in 1 2 3 4 5 6 7 8; do
    useradd --system --no-create-home --home-dir /var/empty --shell /usr/sbin/nologin \
      --gid nixbld --groups nixbld --comment "Nix build user $i" "nixbld$i"
  done
fi

# npm ci deletes node_modules and installs every package again (a minute or more): only when
# node_modules differs from package-lock.json, which check-install.mjs says (and why) in a second.
if [ ! -f package-lock.json ]; then
  npm install --no-audit --no-fund
elif [ -d node_modules ] && node scripts/check-install.mjs; then
  echo "setup: node_modules matches package-lock.json; npm ci skipped" >&2
else
  echo "setup: installing the npm packages of package-lock.json (npm ci)" >&2
  npm ci --no-audit --no-fund
fi
