# NVIDIA GPU: the proprietary driver with kernel modesetting. `open = true` is the open kernel
# module, for Turing (RTX 20xx, GTX 16xx) and newer; set it to false for older cards.
{ lib, ... }:
{
  hardware = {
    graphics.enable = true;
    nvidia = {
      modesetting.enable = true;
      open = true;
    };
  };
  services.xserver.videoDrivers = [ "nvidia" ];
  # The driver is unfree: allowed by name, nothing else unfree.
  nixpkgs.config.allowUnfreePredicate =
    pkg:
    builtins.elem (lib.getName pkg) [
      "nvidia-x11"
      "nvidia-settings"
      "nvidia-persistenced"
    ];
}
