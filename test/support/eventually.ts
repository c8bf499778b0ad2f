/**
 * Polls `check` until it returns true or `ms` elapse. Tests use it instead of
 * a fixed sleep wherever they wait for something to happen, so that a busy
 * CI machine makes them slower, not red.
 */
export async function eventually(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
