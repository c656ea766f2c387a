# EFI firmware: systemd-boot on the EFI system partition.
{
  boot.loader = {
    systemd-boot.enable = true;
    efi.canTouchEfiVariables = true;
  };
}
