# The file systems of disko.nix, by the labels disko gives its partitions (disk-<disk>-<partition>).
# With the disko module imported, disko declares them itself and this file goes.
{
  fileSystems = {
    "/" = {
      device = "/dev/disk/by-partlabel/disk-main-root";
      fsType = "ext4";
    };
    "/boot" = {
      device = "/dev/disk/by-partlabel/disk-main-ESP";
      fsType = "vfat";
      options = [ "umask=0077" ];
    };
  };
}
