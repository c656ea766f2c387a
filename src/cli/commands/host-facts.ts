import hostFactsTool from "../../tools/host_facts.js";
import { ALL_OPTION, command, EXIT, flag } from "../command.js";
import { hostLine, width } from "../format.js";

export default command({
  name: "facts",
  synopsis: "facts HOSTS...|@tag|--all|--local [--name NAME] [--no-facter]",
  summary: "what machines are: system, CPU, memory, disks by id, boot, GPU, generations",
  options: {
    ...ALL_OPTION,
    local: { type: "boolean", description: "this machine, without ssh", field: "local" },
    name: {
      type: "string",
      value: "NAME",
      description: "with --local: the host name for its facter report",
      field: "name",
    },
    "no-facter": {
      type: "boolean",
      description: "do not save nixos-facter's report in the flake",
      field: "saveFacter",
    },
  },
  positionals: "hosts",
  tool: hostFactsTool,
  input: (values, positionals) => ({
    hosts: values.all ? ["all"] : positionals.length ? positionals : undefined,
    local: flag(values.local),
    name: values.name,
    saveFacter: values["no-facter"] ? false : undefined,
  }),
  exitCode: (result) => (result.status === "ok" ? EXIT.ok : EXIT.failed),
  render: (result) => {
    const w = width(result.hosts);
    return [
      ...result.hosts.flatMap((h) => {
        const f = h.facts;
        if (!f) return [hostLine(h.host, `not reachable: ${h.reason}`, w)];
        const size = (b: number | "unknown") => (b === "unknown" ? "?" : `${(b / 1024 ** 3).toFixed(1)} GiB`);
        return [
          hostLine(
            h.host,
            `${f.system}, ${f.installer ? "NixOS installer" : f.nixos ? "NixOS" : f.os}, boot ${f.boot}`,
            w,
          ),
          hostLine(h.host, `cpu ${f.cpu.model} (${f.cpu.cores} cores), memory ${size(f.memoryBytes)}`, w),
          hostLine(h.host, `gpu ${f.gpu.vendor}, driver ${f.gpu.driver}`, w),
          ...f.disks.map((d) => hostLine(h.host, `disk ${d.id} (${size(d.sizeBytes)})`, w)),
          hostLine(
            h.host,
            `nix ${f.nixVersion}, /nix free ${size(f.nixFreeBytes)}, cache ${f.binaryCache.url}: ${f.binaryCache.answers}`,
            w,
          ),
          ...(f.systemGeneration !== undefined
            ? [hostLine(h.host, `system generation ${f.systemGeneration}`, w)]
            : []),
          ...f.homeManager.map((p) =>
            hostLine(
              h.host,
              `home-manager ${p.user}: generations ${p.generations.map((g) => (g.current ? `${g.number}*` : g.number)).join(" ")}`,
              w,
            ),
          ),
          ...(h.facter
            ? [hostLine(h.host, `facter report: ${h.facter.file} (${h.facter.reportPath})`, w)]
            : []),
          ...(h.facterError ? [hostLine(h.host, `facter: ${h.facterError}`, w)] : []),
        ];
      }),
      `next: ${result.next}`,
    ];
  },
});
