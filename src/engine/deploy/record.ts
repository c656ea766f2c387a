import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { UserError } from "../errors.js";
import { deploymentsDir, listJsonFiles, processAlive, readJson, writeFileAtomic } from "../state.js";
import type { DeployLimits, LimitsInput } from "./limits.js";
import type { Rollout, ValidationCheck } from "./schemas.js";

/** The state of a deployment, on disk so that an interrupted one can be resumed. */

export type DeployMode = "standard" | "fast" | "emergency";
export type DeployGoal = "switch" | "boot" | "test" | "dry-activate";

export type HostOutcome = "pending" | "deployed" | "unchanged" | "dry-run" | "failed" | "rolled-back";

export interface PhaseRecord {
  name: string;
  startedAt: string;
  durationMs?: number;
  ok?: boolean;
  detail?: string;
}

export interface HostRecord {
  outcome: HostOutcome;
  phases: PhaseRecord[];
  newSystem?: string;
  previousSystem?: string;
  generationBefore?: number;
  generationAfter?: number;
  /** Set when the host was finished by an earlier run of this deployment (resume). */
  finishedEarlier?: boolean;
  /** What ran the activation on the host: a systemd-run unit, or setsid where systemd does not run. */
  supervisor?: "systemd-run" | "setsid";
  /** The binary cache the host substituted its closure from (its label: no query, no key path). */
  cache?: string;
}

export interface DeploymentRequest {
  flake: string;
  selectors: string[];
  mode: DeployMode;
  goal: DeployGoal;
  dryRun: boolean;
  confirmTimeoutSec: number;
  /**
   * `nix copy --substitute-on-destination`: hosts fetch what they can from their own substituters.
   * Kept here so that a resumed deployment copies the way the interrupted one was asked to; absent
   * in records written before it existed, which means false.
   */
  substituteOnDestination?: boolean;
  /** Activations run with NIXOS_INSTALL_BOOTLOADER=1; kept so that a resumed deployment does too. */
  installBootloader?: boolean;
  /** The call's limits (deploy/limits.ts), kept so that a resumed deployment runs as it started. */
  limits?: LimitsInput;
  /** Waves the hosts are deployed in; absent (older records, or none asked for) is one wave. */
  rollout?: Rollout;
  /** The build host named for this deployment (else each host's inventory buildHost). */
  buildHost?: string;
  /** The signing key named for this deployment (a path, never the key), over the inventory's. */
  signingKey?: string;
  /** The deploy input's cache ("none", or one the inventory declares); absent: the inventory's. */
  cache?: string;
}

export interface DeploymentRecord {
  id: string;
  pid: number;
  createdAt: string;
  updatedAt: string;
  status: "running" | "succeeded" | "failed";
  request: DeploymentRequest;
  hosts: Record<string, HostRecord>;
  /** Validation before any host (by mode); kept so that a resumed deployment does not repeat it. */
  checks?: ValidationCheck[];
  /** The full results, for the report; written when the deployment ends. */
  results?: unknown;
  /** The limits the last run of the deployment ran with, the chunk size worked out (for the report). */
  limits?: Required<DeployLimits>;
}

export function newDeploymentId(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-");
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}

/** How long a record's saves wait to be written together (see DeploymentStore.saver). */
const COALESCE_SAVES_MS = 200;

export class DeploymentStore {
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  private file(id: string): string {
    if (!/^[A-Za-z0-9-]+$/.test(id))
      throw new UserError(`"${id}" is not a deployment id`, "use an id from a deploy result, or latest");
    return join(deploymentsDir(this.env), `${id}.json`);
  }

  save(record: DeploymentRecord): void {
    record.updatedAt = new Date().toISOString();
    writeFileAtomic(this.file(record.id), `${JSON.stringify(record, null, 2)}\n`, { backup: false });
  }

  /**
   * Saves of one record as its hosts move, coalesced: every phase of every host changes the record,
   * and a fleet's many hosts would otherwise write the whole file again for each. `save` writes
   * within COALESCE_SAVES_MS; `flush` writes now (before a step a resumed deployment must know of, and at
   * the end).
   */
  saver(record: DeploymentRecord): { save(): void; flush(): void } {
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      this.save(record);
    };
    return {
      save: () => {
        timer ??= setTimeout(flush, COALESCE_SAVES_MS).unref();
      },
      flush,
    };
  }

  load(id: string): DeploymentRecord | undefined {
    return readJson<DeploymentRecord>(this.file(id));
  }

  list(): DeploymentRecord[] {
    return listJsonFiles(deploymentsDir(this.env))
      .map((file) => readJson<DeploymentRecord>(file))
      .filter((r): r is DeploymentRecord => r !== undefined)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /**
   * The deployment to resume: the given id, or with "latest" the newest that did not finish.
   * One still running in a live process is refused.
   */
  resumable(idOrLatest: string, flake: string): DeploymentRecord {
    // "latest" is this flake's latest: another flake's unfinished deployment is not ours to finish.
    const ours = this.list().filter((r) => r.request.flake === flake);
    const record =
      idOrLatest === "latest" ? ours.find((r) => r.status !== "succeeded") : this.load(idOrLatest);
    if (!record) {
      const unfinished = ours
        .filter((r) => r.status !== "succeeded")
        .slice(0, 5)
        .map((r) => r.id);
      throw new UserError(
        idOrLatest === "latest" ? "no unfinished deployment to resume" : `no deployment ${idOrLatest}`,
        unfinished.length
          ? `unfinished deployments, newest first: ${unfinished.join(", ")}`
          : "no deployment is unfinished; start a new one instead",
      );
    }
    if (record.status === "running" && record.pid !== process.pid && processAlive(record.pid)) {
      throw new UserError(
        `deployment ${record.id} is still running (pid ${record.pid})`,
        "wait for it to finish",
      );
    }
    return record;
  }
}
