#!/bin/sh
# ssh-host-key.sh: which ssh host key the host has, for secrets encrypted to it (sops-nix, agenix).
# Run as `sh -c SCRIPT nix-deploy-ssh-host-key`.
#
# Arguments: none.
# Output: the path of the first of /etc/ssh/ssh_host_ed25519_key and /etc/ssh/ssh_host_rsa_key that
#   exists (NixOS's services.openssh.hostKeys defaults, which sops-nix and agenix decrypt with), or
#   nothing when neither does. Exit status 0 either way.
for key in /etc/ssh/ssh_host_ed25519_key /etc/ssh/ssh_host_rsa_key; do
  if [ -e "$key" ]; then
    echo "$key"
    exit 0
  fi
done
exit 0
