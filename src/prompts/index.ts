import type { AnyPromptDefinition } from "./define.js";
import { modePrompts, nixDeployPrompt } from "./nix-deploy.js";

/** Every prompt the server offers. */
export const prompts: AnyPromptDefinition[] = [nixDeployPrompt, ...modePrompts];
