# BIOS firmware: GRUB in the BIOS boot partition.
{
  boot.loader.grub.enable = true;
}
