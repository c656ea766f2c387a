/**
 * Polls until a condition holds (a condition that throws, e.g. on a file not written yet, does not
 * hold yet), or fails after the bound with the state described, when the caller can describe it.
 */
export async function waitFor(
  condition: () => boolean,
  timeoutMs: number,
  describeState?: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const holds = () => {
    try {
      return condition();
    } catch {
      return false;
    }
  };
  while (!holds()) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting${describeState ? `; state:\n${describeState()}` : ""}`);
    // Short: some tests must act within a 2 s activation.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
