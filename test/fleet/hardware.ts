/**
 * The hardware of the simulated hosts, as a deployer sees it over ssh: GPUs through stand-in
 * lspci/nvidia-smi, disks by id (a directory of links mounted on /dev/disk/by-id), EFI or BIOS
 * (/sys/firmware/efi), the OS (/etc/os-release, /etc/NIXOS in an /etc overlay of the host's own),
 * an optional nixos-facter, and a login user with standalone home-manager generations.
 */
import { spawnSync } from "node:child_process";
import { chownSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), "fixture");
/** The deployer-side stand-ins (nixos-anywhere): put this directory first on a server's PATH. */
export const DEPLOYER_BIN = join(FIXTURE, "deployer-bin");

type GpuKind = "nvidia" | "amd" | "intel" | "hybrid-no-driver";
export interface Hardware {
  gpu?: GpuKind;
  efi: boolean;
  disks: Array<{ id: string; device: string; sizeBytes: number }>;
  facter?: boolean;
  /** A user with two standalone home-manager generations (the second current). */
  homeManager?: boolean;
}

export const HOME_USER = { name: "alice", uid: 4711 };

const NVME = {
  id: "nvme-Samsung_SSD_980_PRO_1TB_S5GXNF0R123456",
  device: "nvme0n1",
  sizeBytes: 1000204886016,
};
export const HARDWARE: Record<string, Hardware> = {
  p620: { gpu: "amd", efi: true, disks: [NVME], facter: true },
  p510: {
    gpu: "nvidia",
    efi: false,
    disks: [{ id: "ata-WDC_WD40EFRX_WD-WCC4E1234567", device: "sda", sizeBytes: 4000787030016 }],
  },
  razer: { gpu: "hybrid-no-driver", efi: true, disks: [NVME], homeManager: true },
  samsung: { gpu: "intel", efi: true, disks: [] },
  installer: {
    gpu: "intel",
    efi: true,
    disks: [
      { id: "nvme-WD_BLACK_SN850X_2000GB_23456789ABCD", device: "nvme0n1", sizeBytes: 2000398934016 },
      { id: "ata-Samsung_SSD_870_EVO_500GB_S62ANZ0R987654", device: "sda", sizeBytes: 500107862016 },
    ],
  },
};

const LSPCI: Record<GpuKind, string> = {
  nvidia:
    "00:1f.3 Audio device [0403]: Intel Corporation C610/X99 HD Audio [8086:8d20] (rev 05)\n" +
    "03:00.0 VGA compatible controller [0300]: NVIDIA Corporation GP104 [GeForce GTX 1080] [10de:1b80] (rev a1)\n" +
    "\tSubsystem: Dell Device [1028:3367]\n\tKernel driver in use: nvidia\n\tKernel modules: nouveau, nvidia_drm, nvidia\n",
  amd:
    "2f:00.0 VGA compatible controller [0300]: Advanced Micro Devices, Inc. [AMD/ATI] Navi 21 [Radeon RX 6800/6800 XT / 6900 XT] [1002:73bf] (rev c1)\n" +
    "\tKernel driver in use: amdgpu\n\tKernel modules: amdgpu\n",
  intel:
    "00:02.0 VGA compatible controller [0300]: Intel Corporation Alder Lake-P GT2 [Iris Xe Graphics] [8086:46a6] (rev 0c)\n" +
    "\tKernel driver in use: i915\n\tKernel modules: i915\n",
  "hybrid-no-driver":
    "00:02.0 VGA compatible controller [0300]: Intel Corporation CoffeeLake-H GT2 [UHD Graphics 630] [8086:3e9b]\n" +
    "\tKernel driver in use: i915\n" +
    "01:00.0 3D controller [0302]: NVIDIA Corporation TU106M [GeForce RTX 2060 Mobile] [10de:1f15] (rev a1)\n" +
    "\tKernel modules: nouveau, nvidia_drm, nvidia\n",
};

/** Shell lines for a host's boot script ($1 is the host's directory): its hardware as mounts. */
export const HARDWARE_MOUNTS = [
  'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/etc-upper,workdir=$1/etc-work" /etc',
  'mount --bind "$1/disk-by-id" /dev/disk/by-id',
  "mount -t tmpfs -o mode=0755 firmware /sys/firmware",
  'if [ -e "$1/efi" ]; then mkdir /sys/firmware/efi; fi',
  'mount --bind "$1/mnt" /mnt',
  'mount --bind "$1/users" /home',
];

/** Writes a host's hardware into its directory, before it boots. */
export function prepareHardware(hostDir: string, name: string, installer: boolean): void {
  const hw = HARDWARE[name] ?? { efi: false, disks: [] };
  // The mount points the host's namespace needs on this machine: empty where nothing else uses them.
  mkdirSync("/dev/disk/by-id", { recursive: true });
  const data = join(hostDir, "run", "nix-deploy-sim", "hardware");
  for (const dir of [data, "etc-upper/ssh", "etc-work", "disk-by-id", "mnt", "users"].map((d) =>
    d.startsWith("/") ? d : join(hostDir, d),
  ))
    mkdirSync(dir, { recursive: true });
  const standIn = (tool: string) =>
    copyFileSync(join(FIXTURE, "hardware-bin", tool), join(hostDir, "bin", tool));
  standIn("lsblk");
  writeFileSync(join(data, "lsblk"), hw.disks.map((d) => `${d.device} ${d.sizeBytes}\n`).join(""));
  for (const disk of hw.disks) symlinkSync(`../../${disk.device}`, join(hostDir, "disk-by-id", disk.id));
  if (hw.efi) writeFileSync(join(hostDir, "efi"), "");
  if (hw.gpu) {
    standIn("lspci");
    writeFileSync(join(data, "lspci"), LSPCI[hw.gpu]);
  }
  if (hw.gpu === "nvidia" || hw.gpu === "hybrid-no-driver") {
    standIn("nvidia-smi");
    if (hw.gpu === "nvidia") writeFileSync(join(data, "nvidia-smi"), "NVIDIA GeForce GTX 1080, 550.78\n");
    else
      writeFileSync(
        join(data, "nvidia-smi.error"),
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n",
      );
  }
  if (hw.facter) {
    standIn("nixos-facter");
    writeFileSync(join(data, "facter.json"), `${JSON.stringify(facterReport(name, hw), null, 2)}\n`);
  }
  const etc = join(hostDir, "etc-upper");
  if (installer) {
    standIn("reboot");
    writeFileSync(
      join(etc, "os-release"),
      'ID=nixos\nVARIANT_ID=installer\nNAME=NixOS\nPRETTY_NAME="NixOS 25.05 (Warbler) installer"\n',
    );
  } else {
    writeFileSync(join(etc, "os-release"), `ID=nixos\nNAME=NixOS\nPRETTY_NAME="NixOS 25.05 (Warbler)"\n`);
    writeFileSync(join(etc, "NIXOS"), "");
  }
  if (hw.homeManager) addHomeUser(hostDir);
}

/** alice, in the host's own /etc/passwd and /home, with home-manager generations 1 and 2. */
function addHomeUser(hostDir: string): void {
  const { name, uid } = HOME_USER;
  const etc = join(hostDir, "etc-upper");
  const passwd = spawnSync("cat", ["/etc/passwd"], { encoding: "utf8" }).stdout;
  const group = spawnSync("cat", ["/etc/group"], { encoding: "utf8" }).stdout;
  writeFileSync(join(etc, "passwd"), `${passwd}${name}:x:${uid}:${uid}::/home/${name}:/bin/sh\n`);
  writeFileSync(join(etc, "group"), `${group}${name}:x:${uid}:\n`);
  const home = join(hostDir, "users", name);
  mkdirSync(home, { recursive: true });
  chownSync(home, uid, uid);
}

/**
 * Builds two stand-in home-manager generations into the host's store and activates them in turn as
 * alice inside the host, as `home-manager switch` would have: generations 1 and 2, 2 current.
 */
export async function setUpHomeManager(
  hostDir: string,
  initPid: number,
  system: string,
  run: (file: string, args: string[]) => Promise<{ stdout: string }>,
): Promise<string[]> {
  const file = join(FIXTURE, "home-manager", "generation.nix");
  const paths: string[] = [];
  for (const label of ["1", "2"]) {
    const expr = `import ${file} { system = "${system}"; label = "${label}"; }`;
    const built = JSON.parse(
      (await run("nix", ["build", "--impure", "--no-link", "--json", "--expr", expr])).stdout,
    );
    const path = built[0].outputs.out as string;
    await run("nix", ["copy", "--no-check-sigs", "--to", `local?root=${join(hostDir, "root")}`, path]);
    const { name } = HOME_USER;
    await run("nsenter", [
      "-t",
      String(initPid),
      "-m",
      "-p",
      "--",
      "runuser",
      "-u",
      name,
      "--",
      "env",
      `HOME=/home/${name}`,
      `USER=${name}`,
      `${path}/activate`,
    ]);
    paths.push(path);
  }
  return paths;
}

function facterReport(name: string, hw: Hardware): unknown {
  return {
    version: 5,
    system: process.arch === "arm64" ? "aarch64-linux" : "x86_64-linux",
    virtualisation: "none",
    uefi: { supported: hw.efi },
    hardware: {
      graphics_card: hw.gpu
        ? [{ vendor: { name: hw.gpu }, driver_modules: [hw.gpu === "amd" ? "amdgpu" : "i915"] }]
        : [],
      disk: hw.disks.map((d) => ({ unix_device_names: [`/dev/${d.device}`, `/dev/disk/by-id/${d.id}`] })),
    },
    smbios: { system: { product: `simulated ${name}` } },
  };
}
