import type { AnyPromptDefinition } from "./define.js";
import { nixDeployPrompt } from "./nix-deploy.js";

/** Every prompt the server offers; one file each in this folder. */
export const prompts: AnyPromptDefinition[] = [nixDeployPrompt];
