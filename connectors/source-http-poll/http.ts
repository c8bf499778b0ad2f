/**
 * GET requests for JSON: the auth header, a shared rate limit, a timeout,
 * and errors that say what failed without quoting a response body or a
 * query string (either may hold secrets or documents). Statuses a later try
 * may not see again (408, 429, 5xx), timeouts and network failures are
 * TransientErrors, carrying the wait a Retry-After header asks for.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { ConnectorError } from "../../src/sdk/errors.js";
import { TransientError } from "../../src/sdk/retry.js";
import { redactSecrets } from "../../src/log.js";
import { retryAfterMs } from "../../src/net/retry-after.js";

/** Spaces requests at least 1/perSecond apart, across every resource of a session. */
export class RateLimiter {
  private next = 0;
  constructor(private readonly perSecond: number) {}

  async take(signal: AbortSignal): Promise<void> {
    if (this.perSecond <= 0) return;
    const now = Date.now();
    const at = Math.max(now, this.next);
    this.next = at + 1000 / this.perSecond;
    if (at > now) await sleep(at - now, undefined, { signal });
  }
}

export interface HttpOptions {
  headers: Record<string, string>;
  limiter: RateLimiter;
  timeoutMs: number;
}

export interface JsonResponse {
  body: unknown;
  /** The Link header, if any. */
  link: string | null;
}

const isTransientStatus = (status: number) => status === 408 || status === 429 || status >= 500;

/** GETs `url` and parses its JSON body; `resource` names the resource in errors. */
export async function getJson(url: URL, resource: string, opts: HttpOptions, signal: AbortSignal): Promise<JsonResponse> {
  const what = `GET ${redactSecrets(url.pathname)}`;
  await opts.limiter.take(signal);
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: "application/json", ...opts.headers }, signal: AbortSignal.any([signal, timeout]), redirect: "manual" });
  } catch (err) {
    if (signal.aborted) throw err;
    if (timeout.aborted) throw new TransientError(`${what} timed out after ${opts.timeoutMs / 1000} s`);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new TransientError(`${what} failed: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    const status = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`;
    if (isTransientStatus(res.status)) throw new TransientError(`${what} answered ${status}`, { retryAfterMs: retryAfterMs(res.headers.get("retry-after")) });
    const hint =
      res.status === 401 || res.status === 403
        ? " (check auth_header and auth_value)"
        : res.status >= 300 && res.status < 400
          ? " (a redirect, not followed so the auth header goes nowhere else: set base_url to where it points)"
          : "";
    throw new ConnectorError(`resource ${resource}: ${what} answered ${status}${hint}`);
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    if (signal.aborted) throw err;
    throw new TransientError(timeout.aborted ? `${what} timed out after ${opts.timeoutMs / 1000} s reading the body` : `${what}: the body was cut off`);
  }
  try {
    return { body: JSON.parse(text), link: res.headers.get("link") };
  } catch {
    throw new ConnectorError(`resource ${resource}: ${what} answered HTTP ${res.status} with a body that is not JSON`);
  }
}
