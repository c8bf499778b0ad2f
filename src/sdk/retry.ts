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
  /** The longest backoff, and (unless `asked` is "replaces") the longest wait the source asked for (default 30 s). */
  maxMs?: number;
  /**
   * How a wait an error asks for (`retryAfterMs`) is used: "atLeast"
   * (default) waits the longer of it and the backoff, at most `maxMs`;
   * "replaces" waits just what was asked (0 included) instead of the
   * backoff, at most `maxAskedMs`.
   */
  asked?: "atLeast" | "replaces";
  /** With `asked: "replaces"`, the longest asked wait honoured (default `maxMs`). */
  maxAskedMs?: number;
  /** The error thrown when the last attempt failed transiently (default: a ConnectorError naming the call and the attempts). */
  exhausted?: (err: unknown, attempts: number) => Error;
  /** Called before each wait, instead of the default warning (to count retries, or log in the caller's terms). */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

export function isTransient(err: unknown): boolean {
  return err instanceof TransientError || (err !== null && typeof err === "object" && (err as { transient?: unknown }).transient === true);
}

/** The wait after failed attempt `attempt` (from 1), given the wait the error asked for, if any. */
function retryDelayMs(opts: RetryOptions, attempt: number, asked: unknown): number {
  const maxMs = opts.maxMs ?? 30_000;
  const backoffMs = Math.min(maxMs, (opts.initialMs ?? 500) * 2 ** (attempt - 1));
  if (opts.asked === "replaces") {
    return typeof asked === "number" && asked >= 0 ? Math.min(opts.maxAskedMs ?? maxMs, asked) : backoffMs;
  }
  return Math.min(maxMs, Math.max(backoffMs, typeof asked === "number" && asked > 0 ? asked : 0));
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
      if (attempt >= attempts) {
        throw opts.exhausted?.(err, attempt) ?? new ConnectorError(`${what} failed ${attempt} times with transient errors; the last: ${msg}`, { cause: err });
      }
      const delayMs = retryDelayMs(opts, attempt, (err as { retryAfterMs?: unknown }).retryAfterMs);
      if (opts.onRetry) opts.onRetry(err, attempt, delayMs);
      else log.warn("transient error, retrying", { what, attempt, delayMs, error: msg });
      await sleep(delayMs, undefined, { signal });
    }
  }
}
