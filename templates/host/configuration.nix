# @NAME@: a host added by nix-deploy add_host, from its machine facts:
# @FACTS@.
# The other modules of this directory hold the boot loader, the disk's partitions, the GPU driver
# and the services. Edit freely: nix-deploy does not generate them again.
{
  imports = [
@IMPORTS@
  ];

  networking.hostName = "@NAME@";
  nixpkgs.hostPlatform = "@SYSTEM@";

  # How nix-deploy reaches the host: ssh with keys only. Add the deployer's public key to
  # users.users.root.openssh.authorizedKeys.keys (install_host puts the host's own key in place).
  services.openssh = {
    enable = true;
    settings = {
      PasswordAuthentication = false;
      KbdInteractiveAuthentication = false;
      PermitRootLogin = "prohibit-password";
    };
  };
@USERS@
  # The NixOS release this host was installed with: it keeps stateful services (databases, home
  # directories) on the formats they were created in. Do not change it on an installed host.
  system.stateVersion = "24.11";
}
