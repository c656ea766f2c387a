import { z } from "zod";
import { homeManagerProfileSchema } from "../fleet/home-manager.js";

/**
 * What a machine is, as facts.sh reads it: the schema other operations consume (add_host picks the
 * boot loader, GPU driver and disk from it; install_host checks architecture and memory). Every
 * value that could not be read is "unknown", never an error; `sources` says where each came from.
 */
const unknown = z.literal("unknown");
const orUnknown = <T extends z.ZodType>(schema: T) => z.union([schema, unknown]);

export const gpuVendorSchema = z.enum(["nvidia", "amd", "intel", "none", "unknown"]);

export const machineFactsSchema = z.object({
  host: z.string(),
  nixos: z.boolean().describe("/etc/NIXOS exists"),
  installer: z.boolean().describe("a NixOS installer (os-release VARIANT_ID=installer) or a kexec'd one"),
  os: z.string().describe("os-release's PRETTY_NAME"),
  system: z.string().describe('the Nix system string, e.g. "x86_64-linux", or "unknown"'),
  root: z.boolean().describe("the facts were read as root"),
  cpu: z.object({ model: z.string(), cores: orUnknown(z.number()) }),
  memoryBytes: orUnknown(z.number()),
  disks: z
    .array(z.object({ id: z.string(), device: z.string(), sizeBytes: orUnknown(z.number()) }))
    .describe("whole disks by /dev/disk/by-id name; device is the kernel name, which is not stable"),
  boot: z.enum(["efi", "bios", "unknown"]),
  gpu: z.object({
    vendor: gpuVendorSchema.describe("the discrete GPU's vendor when there are several"),
    driver: z.string().describe('the driver state: "nvidia 550.78", "amdgpu", "none loaded", "unknown"'),
    devices: z.array(z.object({ vendor: gpuVendorSchema, description: z.string(), driver: z.string() })),
  }),
  nixVersion: z.string(),
  currentSystem: z.string().optional().describe("/run/current-system; absent on an installer or non-NixOS"),
  systemGeneration: z.number().optional(),
  homeManager: z.array(homeManagerProfileSchema),
  nixFreeBytes: orUnknown(z.number()),
  binaryCache: z.object({
    url: z.string().describe('the first substituter, or "none"'),
    answers: z.enum(["yes", "no", "unknown"]),
  }),
  tools: z.record(z.string(), z.boolean()).describe("which commands exist on the machine"),
  sources: z.record(z.string(), z.string()).describe("where each fact was read"),
});
export type MachineFacts = z.infer<typeof machineFactsSchema>;
type Gpu = MachineFacts["gpu"];

/** One line of facts.sh: NAME, SOURCE, VALUE. */
interface FactLine {
  name: string;
  source: string;
  value: string;
}

export function parseFactLines(stdout: string): FactLine[] {
  return stdout
    .split("\n")
    .map((line) => line.split("\t"))
    .filter((parts) => parts.length >= 3 && parts[0])
    .map(([name, source, ...value]) => ({
      name: name as string,
      source: source as string,
      value: value.join("\t"),
    }));
}

/** uname -m and -s as Nix names systems. */
export function nixSystem(arch: string, kernel: string): string {
  const cpu: Record<string, string> = {
    x86_64: "x86_64",
    amd64: "x86_64",
    aarch64: "aarch64",
    arm64: "aarch64",
    i686: "i686",
    i386: "i686",
    armv7l: "armv7l",
    armv6l: "armv6l",
    riscv64: "riscv64",
  };
  const os = kernel === "Linux" ? "linux" : kernel === "Darwin" ? "darwin" : undefined;
  const name = cpu[arch];
  return name && os ? `${name}-${os}` : "unknown";
}

const PCI_VENDORS: Record<string, "nvidia" | "amd" | "intel"> = {
  "10de": "nvidia",
  "1002": "amd",
  "8086": "intel",
};
/** Display controllers: VGA [0300], 3D [0302], other display [0380]. */
const DISPLAY_CLASS = /\[03(00|02|80)\]/;

/** GPUs from `lspci -nnk` (device lines, each followed by indented details) and nvidia-smi. */
export function parseGpus(lines: readonly FactLine[]): Gpu {
  const pci = lines.filter((l) => l.name === "pci").map((l) => l.value);
  if (pci.length === 1 && pci[0] === "unknown")
    return { vendor: "unknown", driver: "unknown (no lspci)", devices: [] };
  const devices: Gpu["devices"] = [];
  let current: Gpu["devices"][number] | undefined;
  for (const line of pci) {
    if (!/^\s/.test(line)) {
      current = undefined;
      if (!DISPLAY_CLASS.test(line)) continue;
      const vendorId = /\[([0-9a-f]{4}):[0-9a-f]{4}\]/.exec(line)?.[1] ?? "";
      current = {
        vendor: PCI_VENDORS[vendorId] ?? "unknown",
        description: line.replace(/^\S+\s+/, ""),
        driver: "none loaded",
      };
      devices.push(current);
    } else if (current) {
      const driver = /Kernel driver in use:\s*(\S+)/.exec(line)?.[1];
      if (driver) current.driver = driver;
    }
  }
  const primary =
    devices.find((d) => d.vendor === "nvidia") ??
    devices.find((d) => d.vendor === "amd") ??
    devices.find((d) => d.vendor === "intel") ??
    devices[0];
  if (!primary) return { vendor: "none", driver: "none", devices };
  let driver = primary.driver;
  if (primary.vendor === "nvidia") {
    const smi = lines.find((l) => l.name === "nvidia-smi")?.value;
    const smiError = lines.find((l) => l.name === "nvidia-smi-error")?.value;
    // "NVIDIA GeForce RTX 3090, 550.78": the driver answers, and this is its version.
    if (smi) driver = `nvidia ${smi.split(",").at(-1)?.trim() ?? ""}`.trim();
    else if (smiError) driver = `not working: ${smiError}`;
    else if (driver === "none loaded") driver = "none loaded (no nvidia-smi)";
  }
  return { vendor: primary.vendor, driver, devices };
}

const numberOr = (value: string | undefined, scale = 1): number | "unknown" =>
  value !== undefined && /^\d+$/.test(value) ? Number(value) * scale : "unknown";

/** The facts of one machine from facts.sh's lines (home-manager profiles are read beside them). */
export function factsFromLines(
  host: string,
  stdout: string,
  homeManager: MachineFacts["homeManager"],
): MachineFacts {
  const lines = parseFactLines(stdout);
  const first = (name: string) => lines.find((l) => l.name === name);
  const value = (name: string) => first(name)?.value;
  const sources: Record<string, string> = {};
  for (const line of lines) sources[line.name] ??= line.source;
  const osId = value("os-id");
  const nixos = value("nixos") === "yes" || osId === "nixos";
  const currentSystem = value("current-system");
  const profile = value("system-profile");
  const generation = /-(\d+)-link$/.exec(profile ?? "")?.[1];
  const cache = first("cache");
  const tools: Record<string, boolean> = {};
  for (const line of lines.filter((l) => l.name === "tool")) {
    const [tool, present] = line.value.split(" ");
    if (tool) tools[tool] = present === "yes";
  }
  const disks = lines
    .filter((l) => l.name === "disk" && l.value !== "none")
    .map((l) => {
      const [id = "", device = "", size] = l.value.split(" ");
      return { id, device, sizeBytes: numberOr(size) };
    })
    .filter((d) => d.id !== "");
  const boot = value("boot");
  return {
    host,
    nixos,
    installer: (osId === "nixos" && value("os-variant") === "installer") || value("kexec") === "yes",
    os: value("os-name") || osId || "unknown",
    system: nixSystem(value("arch") ?? "", value("kernel") ?? ""),
    root: value("uid") === "0",
    cpu: { model: value("cpu-model") || "unknown", cores: numberOr(value("cpu-cores")) },
    memoryBytes: numberOr(value("memory-kib"), 1024),
    disks,
    boot: boot === "efi" || boot === "bios" ? boot : "unknown",
    gpu: parseGpus(lines),
    nixVersion: value("nix-version") || "unknown",
    currentSystem: currentSystem && currentSystem !== "none" ? currentSystem : undefined,
    systemGeneration: generation === undefined ? undefined : Number(generation),
    homeManager,
    nixFreeBytes: numberOr(value("nix-free-kib"), 1024),
    binaryCache: {
      url: cache?.value === "none" || !cache ? "none" : cache.source,
      answers: cache?.value === "yes" ? "yes" : cache?.value === "no" ? "no" : "unknown",
    },
    tools,
    sources,
  };
}
