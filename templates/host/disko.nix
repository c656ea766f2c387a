# The disk layout of @NAME@ for disko: a GPT disk with @LAYOUT@ and an ext4 root.
# install_host (nixos-anywhere) partitions the disk with it; `disko --mode disko` does too.
{
  disko.devices.disk.main = {
    type = "disk";
    device = "@DISK@";
    content = {
      type = "gpt";
      partitions = {
@PARTITION@
        root = {
          size = "100%";
          content = {
            type = "filesystem";
            format = "ext4";
            mountpoint = "/";
          };
        };
      };
    };
  };
}
