# The root file system of disko.nix, by the label disko gives its partition (disk-<disk>-<partition>),
# and GRUB's disk. With the disko module imported, disko declares both itself and this file goes.
{
  fileSystems."/" = {
    device = "/dev/disk/by-partlabel/disk-main-root";
    fsType = "ext4";
  };
  boot.loader.grub.device = "@DISK@";
}
