# AMD GPU: the amdgpu kernel driver, loaded early for a flicker-free boot, and Mesa.
{
  hardware.graphics.enable = true;
  services.xserver.videoDrivers = [ "amdgpu" ];
  boot.initrd.kernelModules = [ "amdgpu" ];
}
