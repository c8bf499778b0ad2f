/**
 * One POST with retries (the SDK's withRetry): 429, 5xx, timeouts and
 * network failures are retried with exponential backoff, or after the
 * Retry-After the receiver asked for instead; any other non-2xx answer
 * fails at once.
 */
import type { Logger } from "../../src/log.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { retryAfterMs } from "../../src/net/retry-after.js";
import { TransientError, withRetry } from "../../src/sdk/retry.js";
import type { Endpoint } from "./config.js";

/** The longest Retry-After honoured (a receiver asking for more gets this), and the longest backoff. */
const MAX_RETRY_AFTER_MS = 5 * 60_000;

export interface PostCounters {
  requests: number;
  retries: number;
  bytes: number;
}

/** A URL as errors and logs show it: no query (it may hold a token). */
export function shownUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function retryable(status: number): boolean {
  return status === 429 || status >= 500;
}

export async function postWithRetry(
  ep: Endpoint,
  url: URL,
  body: Buffer,
  headers: Record<string, string>,
  counters: PostCounters,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  const shown = shownUrl(url);
  const problem = (err: unknown) => (err instanceof Error ? err.message : String(err));
  const post = async () => {
    counters.requests++;
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        body,
        headers,
        redirect: "error",
        signal: AbortSignal.any([signal, AbortSignal.timeout(ep.timeoutMs)]),
      });
    } catch (err) {
      if (signal.aborted) throw err;
      const e = err as Error & { cause?: { code?: string; message?: string } };
      throw new TransientError(e.name === "TimeoutError" ? `timed out after ${ep.timeoutMs} ms` : `failed: ${e.cause?.code ?? e.cause?.message ?? e.message}`);
    }
    await res.arrayBuffer().catch(() => undefined); // free the connection; the body is not shown
    if (res.ok) {
      counters.bytes += body.length;
      return;
    }
    const answered = `answered ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`;
    if (!retryable(res.status)) throw new ConnectorError(`POST ${shown} ${answered}; only 2xx is accepted`);
    throw new TransientError(answered, { retryAfterMs: retryAfterMs(res.headers.get("retry-after")) });
  };
  const { attempts, initialMs, maxMs } = ep.retry;
  await withRetry(
    `POST ${shown}`,
    post,
    {
      attempts,
      initialMs,
      maxMs: Math.min(maxMs, MAX_RETRY_AFTER_MS),
      // A receiver's Retry-After is its call, even when shorter than our backoff.
      asked: "replaces",
      maxAskedMs: MAX_RETRY_AFTER_MS,
      exhausted: (err, n) => new ConnectorError(`POST ${shown} ${problem(err)} (${n} attempts)`, { condition: "unavailable" }),
      onRetry: (err, attempt, delayMs) => {
        counters.retries++;
        log.warn("webhook request failed, retrying", { url: shown, attempt, delayMs, problem: problem(err) });
      },
    },
    log,
    signal,
  );
}
