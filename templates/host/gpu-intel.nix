# Intel GPU: the kernel's i915/xe driver through modesetting, and Mesa.
{
  hardware.graphics.enable = true;
  services.xserver.videoDrivers = [ "modesetting" ];
}
