# Weekly automatic upgrades, never rebooting on their own. For a host deployed from a flake, set
# system.autoUpgrade.flake to the flake's repository (e.g. "github:you/fleet#@NAME@"), or leave
# this off and deploy updates with nix-deploy.
{
  system.autoUpgrade = {
    enable = true;
    dates = "weekly";
    allowReboot = false;
  };
}
