import type { Engine } from "../engine.js";
import { UserError } from "../errors.js";
import type { Host } from "../fleet/hosts.js";
import type { KeyDescription, UploadTime } from "./key.js";
import { uploadHostKeys } from "./upload.js";

export interface DeployKeysContext {
  /** The pipeline's phase recorder: a named step in the deployment record, timed, ok or failed. */
  phase<T>(name: string, work: () => Promise<T>): Promise<T>;
  step(message: string): void;
  signal?: AbortSignal;
}

/**
 * A deployment's keys for one host, so the pipeline calls one line at each point: pre-activation
 * keys before activation (a failure fails the host before anything is activated), post-activation
 * keys once the activation is confirmed, and all of them on a host whose system is unchanged (a
 * rebooted host has lost /run/keys). `uploaded` describes what arrived, for the host's result.
 */
export function deployKeys(engine: Engine, host: Host, context: DeployKeysContext) {
  const uploaded: KeyDescription[] = [];
  return {
    uploaded,
    async upload(when: UploadTime | "all"): Promise<void> {
      const keys = when === "all" ? host.keys : host.keys.filter((key) => key.uploadAt === when);
      if (keys.length === 0) return;
      const name = when === "all" ? "keys" : `keys (${when})`;
      const hooks = { signal: context.signal, step: context.step };
      try {
        uploaded.push(...(await context.phase(name, () => uploadHostKeys(engine, host, keys, hooks))));
      } catch (error) {
        if (when !== "post-activation" || !(error instanceof UserError)) throw error;
        throw new UserError(
          `the new system is active and confirmed, but a post-activation key failed: ${error.message}`,
          error.remedy,
        );
      }
    },
  };
}
