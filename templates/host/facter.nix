# The hardware as nixos-facter reported it: kernel modules, firmware and CPU microcode follow from
# the report.
{
  hardware.facter.reportPath = @REPORT@;
}
