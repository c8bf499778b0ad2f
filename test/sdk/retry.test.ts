/**
 * withRetry: exponential backoff for transient errors, and the longer wait a
 * transient error asks for (an HTTP Retry-After), capped by the longest wait.
 */
import { describe, expect, it } from "vitest";
import { withRetry, TransientError } from "../../src/sdk/retry.js";
import { createLogger } from "../../src/log.js";

const quiet = createLogger({ level: "error" });
const signal = new AbortController().signal;

/** Fails `failures` times with `make()`, then returns the gaps between calls in ms. */
async function gaps(failures: number, make: () => Error, opts = { attempts: 5, initialMs: 10, maxMs: 2000 }): Promise<number[]> {
  const at: number[] = [];
  await withRetry(
    "thing",
    async () => {
      at.push(Date.now());
      if (at.length <= failures) throw make();
    },
    opts,
    quiet,
    signal,
  );
  return at.slice(1).map((t, i) => t - at[i]!);
}

describe("withRetry", () => {
  it("waits at least the Retry-After a transient error carries, instead of the shorter backoff", async () => {
    const waited = await gaps(1, () => new TransientError("rate limited", { retryAfterMs: 400 }));
    expect(waited[0]).toBeGreaterThanOrEqual(390);
  });

  it("caps an asked wait at maxMs", async () => {
    const waited = await gaps(1, () => new TransientError("rate limited", { retryAfterMs: 60_000 }), { attempts: 3, initialMs: 10, maxMs: 300 });
    expect(waited[0]).toBeGreaterThanOrEqual(290);
    expect(waited[0]).toBeLessThan(20_000);
  });

  it("keeps the plain backoff without an asked wait, and gives up naming the call", async () => {
    const waited = await gaps(2, () => new TransientError("busy"));
    expect(waited.length).toBe(2);
    expect(waited[1]!).toBeGreaterThanOrEqual(19);
    await expect(gaps(3, () => new TransientError("busy"), { attempts: 3, initialMs: 1, maxMs: 5 })).rejects.toThrow(/thing failed 3 times with transient errors; the last: busy/);
  });

  it("with asked: replaces, waits what the error asked (0 included) instead of the backoff, capped at maxAskedMs; hooks replace the warning and the final error", async () => {
    const asks = [0, 50_000, undefined, 5];
    const delays: Array<[number, number, string]> = [];
    let calls = 0;
    const run = withRetry(
      "thing",
      async () => {
        const retryAfterMs = asks[calls++];
        throw new TransientError(`busy ${calls}`, retryAfterMs === undefined ? {} : { retryAfterMs });
      },
      {
        attempts: 5,
        initialMs: 1_000_000,
        maxMs: 2,
        asked: "replaces",
        maxAskedMs: 20,
        onRetry: (err, attempt, delayMs) => delays.push([attempt, delayMs, (err as Error).message]),
        exhausted: (err, n) => new Error(`gave up after ${n}: ${(err as Error).message}`),
      },
      quiet,
      signal,
    );
    await expect(run).rejects.toThrow(/^gave up after 5: busy 5$/);
    // Asked 0 → 0; asked 50 s → capped at 20; nothing asked → the backoff, capped at maxMs (2); asked 5 → 5.
    expect(delays).toEqual([
      [1, 0, "busy 1"],
      [2, 20, "busy 2"],
      [3, 2, "busy 3"],
      [4, 5, "busy 4"],
    ]);
  });
});
