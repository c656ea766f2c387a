# The home-manager configuration of @USER@ on @NAME@, added by nix-deploy add_host.
{ pkgs, ... }:
{
  home = {
    username = "@USER@";
    homeDirectory = "/home/@USER@";
    packages = [ pkgs.htop ];
    # The home-manager release this configuration was written for; keep it when upgrading.
    stateVersion = "24.11";
  };
  programs.home-manager.enable = true;
}
