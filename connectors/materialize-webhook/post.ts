/**
 * One POST with retries: 429, 5xx, timeouts and network failures are
 * retried with exponential backoff (or after the Retry-After the receiver
 * asked for); any other non-2xx answer fails at once.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../src/log.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { retryAfterMs } from "../../src/net/retry-after.js";
import type { Endpoint } from "./config.js";

/** The longest Retry-After honoured; a receiver asking for more gets this. */
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
  const { attempts, initialMs, maxMs } = ep.retry;
  for (let attempt = 1; ; attempt++) {
    let problem: string;
    let wait: number | undefined;
    counters.requests++;
    try {
      const res = await fetch(url, {
        method: "POST",
        body,
        headers,
        redirect: "error",
        signal: AbortSignal.any([signal, AbortSignal.timeout(ep.timeoutMs)]),
      });
      await res.arrayBuffer().catch(() => undefined); // free the connection; the body is not shown
      if (res.ok) {
        counters.bytes += body.length;
        return;
      }
      problem = `answered ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`;
      if (!retryable(res.status)) throw new ConnectorError(`POST ${shownUrl(url)} ${problem}; only 2xx is accepted`);
      wait = retryAfterMs(res.headers.get("retry-after"));
    } catch (err) {
      if (err instanceof ConnectorError || signal.aborted) throw err;
      const e = err as Error & { cause?: { code?: string; message?: string } };
      problem = e.name === "TimeoutError" ? `timed out after ${ep.timeoutMs} ms` : `failed: ${e.cause?.code ?? e.cause?.message ?? e.message}`;
    }
    if (attempt >= attempts) {
      throw new ConnectorError(`POST ${shownUrl(url)} ${problem} (${attempt} attempts)`, { condition: "unavailable" });
    }
    const delayMs = Math.min(MAX_RETRY_AFTER_MS, wait ?? Math.min(maxMs, initialMs * 2 ** (attempt - 1)));
    counters.retries++;
    log.warn("webhook request failed, retrying", { url: shownUrl(url), attempt, delayMs, problem });
    await sleep(delayMs, undefined, { signal });
  }
}
