/**
 * Retries with exponential backoff for errors a connector marks transient
 * (`TransientError`, or any error with `transient: true`).
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../log.js";
import { ConnectorError } from "./errors.js";

/** An error worth retrying: the same call may succeed later (a timeout, a 503, a rate limit). */
export class TransientError extends Error {
  override name = "TransientError";
  readonly transient = true;
  /** The source asked for at least this wait before the next call (an HTTP Retry-After). */
  readonly retryAfterMs?: number;
  constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(message, options);
    if (options?.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

export interface RetryOptions {
  /** Calls in all, the first included (default 5). */
  attempts?: number;
  /** The wait after the first failure, doubled after each next one (default 500 ms). */
  initialMs?: number;
  /** The longest wait, also for a wait the source asked for (default 30 s). */
  maxMs?: number;
}

export function isTransient(err: unknown): boolean {
  return err instanceof TransientError || (err !== null && typeof err === "object" && (err as { transient?: unknown }).transient === true);
}

/**
 * Calls `fn` until it succeeds, retrying transient errors with exponential
 * backoff (or the longer wait an error's `retryAfterMs` asks for); other errors, and the last transient one, fail naming `what`.
 */
export async function withRetry<T>(what: string, fn: () => Promise<T>, opts: RetryOptions, log: Logger, signal: AbortSignal): Promise<T> {
  const attempts = opts.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (signal.aborted || !isTransient(err)) throw err;
      const msg = err instanceof Error ? err.message : String(err);
      if (attempt >= attempts) throw new ConnectorError(`${what} failed ${attempt} times with transient errors; the last: ${msg}`, { cause: err });
      const asked = (err as { retryAfterMs?: unknown }).retryAfterMs;
      const backoffMs = (opts.initialMs ?? 500) * 2 ** (attempt - 1);
      const delayMs = Math.min(opts.maxMs ?? 30_000, Math.max(backoffMs, typeof asked === "number" && asked > 0 ? asked : 0));
      log.warn("transient error, retrying", { what, attempt, delayMs, error: msg });
      await sleep(delayMs, undefined, { signal });
    }
  }
}
