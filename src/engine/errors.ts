/**
 * An error meant for the person or assistant driving nix-deploy: it names what is wrong and what to
 * do about it, and is shown as-is (never as a stack trace).
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly remedy?: string,
  ) {
    super(message);
    this.name = "UserError";
  }
}

/** One line for a person: the message, then the remedy when there is one. */
export function describeError(error: unknown): string {
  if (error instanceof UserError) {
    return error.remedy ? `${error.message}\nWhat to do: ${error.remedy}` : error.message;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}
