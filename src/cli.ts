#!/usr/bin/env node
/** The `nix-deploy` command: see ./cli/main.ts. */
import { main } from "./cli/main.js";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`nix-deploy: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
