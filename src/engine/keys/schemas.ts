/** What upload_keys accepts and returns, apart from the operation so that the tool list loads light. */
import { z } from "zod";
import { hostSelectorSchema } from "../schemas.js";
import { keyDescriptionSchema } from "./key.js";

export const uploadKeysOptionsSchema = z.object({
  hosts: hostSelectorSchema,
  keys: z.array(z.string().min(1)).min(1).optional().describe("only these keys (default all)"),
});
export type UploadKeysOptions = z.infer<typeof uploadKeysOptionsSchema> & { flake?: string };

export const uploadKeysResultSchema = z.object({
  status: z.enum(["succeeded", "failed"]),
  summary: z.string(),
  hosts: z.array(
    z.object({
      host: z.string(),
      outcome: z.enum(["uploaded", "failed", "no keys"]),
      keys: z.array(keyDescriptionSchema).describe("name, destination, mode, owner, size; never content"),
      error: z.string().optional(),
    }),
  ),
  next: z.string(),
});
export type UploadKeysResult = z.infer<typeof uploadKeysResultSchema>;
