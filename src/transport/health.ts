/**
 * Runs a connector's own health check (`healthCheck(config, ctx)`) for a
 * server, periodically, and reports each outcome: the gRPC transport turns
 * it into the health service's SERVING / NOT_SERVING, metrics into a gauge.
 *
 * Which config is checked: a fixed one (`tributary serve --health-config`)
 * when given; otherwise the endpoint config of the most recent Open the
 * server received. Until there is a config, or when the connector has no
 * health check, nothing runs and the server stays SERVING.
 *
 * A check that throws, or takes longer than its timeout, is a failure.
 * Its message goes to the log with every secret value of the config
 * scrubbed from it (the log also redacts URL passwords and key=value
 * secrets); the config itself is never logged.
 */
import type { Connector } from "../sdk/types.js";
import { parseConfig, redact } from "../sdk/config.js";
import { describeError } from "../sdk/errors.js";
import type { Logger } from "../log.js";
import type { AnyRequest } from "../sdk/session.js";
import type { ConnectorMetrics } from "./metrics.js";

export const DEFAULT_HEALTH_INTERVAL_MS = 10_000;
const MIN_DEFAULT_TIMEOUT_MS = 10_000;

export interface HealthOptions {
  /**
   * Endpoint config (JSON text) to check with, instead of the config of
   * the most recent Open. It is validated against the connector's config
   * schema when the monitor is made.
   */
  config?: string;
  /** Time from the end of one check to the start of the next; default 10 s. */
  intervalMs?: number;
  /** The longest one check may take before it counts as failed; default the interval, at least 10 s. */
  timeoutMs?: number;
}

interface Checked {
  /** The validated config. */
  value: unknown;
  /** Its secret strings, to scrub from failure messages. */
  secrets: string[];
  /** The JSON text it came from, to notice a change. */
  text: string;
}

/** Every string value `schema` marks secret within `value`. */
function secretStrings(schema: Record<string, unknown>, value: unknown): string[] {
  const out: string[] = [];
  const walk = (orig: unknown, red: unknown) => {
    if (typeof orig === "string") {
      if (red !== orig && orig !== "") out.push(orig);
    } else if (orig && typeof orig === "object" && red && typeof red === "object") {
      for (const [k, v] of Object.entries(orig)) walk(v, (red as Record<string, unknown>)[k]);
    }
  };
  walk(value, redact(schema, value));
  // Longest first, so a secret containing another is scrubbed whole.
  return out.sort((a, b) => b.length - a.length);
}

function scrub(message: string, secrets: string[]): string {
  let m = message;
  for (const s of secrets) m = m.split(s).join("<redacted>");
  return m;
}

/** The endpoint config of an Open request, when `req` is one. */
function openConfig(req: AnyRequest): string | Uint8Array | undefined {
  const open = (req as { open?: { capture?: { configJson?: string | Uint8Array }; materialization?: { configJson?: string | Uint8Array } } }).open;
  return open?.capture?.configJson ?? open?.materialization?.configJson;
}

const text = (v: string | Uint8Array) => (typeof v === "string" ? v : Buffer.from(v).toString("utf8"));

export class HealthMonitor {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  private readonly fixed: boolean;
  private config: Checked | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private lastFailure: string | undefined;

  /**
   * `report` is called after every check with its outcome. Throws when a
   * fixed config is not valid for the connector.
   */
  constructor(
    private readonly connector: Connector,
    opts: HealthOptions,
    private readonly log: Logger,
    private readonly report: (healthy: boolean) => void,
    private readonly metrics?: ConnectorMetrics,
  ) {
    this.intervalMs = opts.intervalMs ?? DEFAULT_HEALTH_INTERVAL_MS;
    if (!Number.isFinite(this.intervalMs) || this.intervalMs < 1) {
      throw new Error(`the health check interval must be a positive number of milliseconds, not ${this.intervalMs}`);
    }
    this.timeoutMs = opts.timeoutMs ?? Math.max(this.intervalMs, MIN_DEFAULT_TIMEOUT_MS);
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs < 1) {
      throw new Error(`the health check timeout must be a positive number of milliseconds, not ${this.timeoutMs}`);
    }
    this.fixed = opts.config !== undefined;
    if (opts.config !== undefined) this.config = this.parse(opts.config, "endpoint config of the health check");
  }

  /** Whether checks run at all: the connector has a health check. */
  get enabled(): boolean {
    return this.connector.healthCheck !== undefined;
  }

  private parse(raw: string, what: string): Checked {
    const value = parseConfig(this.connector.configSchema, raw, what);
    return { value, secrets: secretStrings(this.connector.configSchema, value), text: raw };
  }

  /** Checks now if there is a config, then every interval. */
  start(): void {
    if (this.enabled && this.config) this.checkSoon();
  }

  /** No more checks; an unfinished one is abandoned. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /**
   * Looks at one request of a session: the endpoint config of an Open is
   * used for later checks (unless a fixed config was given). A config that
   * does not validate is ignored here: the session itself reports it.
   * Called for every request on the server's decode path, so it is a
   * property read unless the request is an Open.
   */
  seen(req: AnyRequest): void {
    if (this.fixed || !this.enabled) return;
    const cfg = openConfig(req);
    if (cfg !== undefined) this.useOpenConfig(text(cfg));
  }

  private useOpenConfig(raw: string): void {
    if (this.stopped || raw === this.config?.text) return;
    try {
      this.config = this.parse(raw, "endpoint config");
    } catch {
      return;
    }
    this.log.debug("health check now uses the config of the latest Open");
    this.checkSoon();
  }

  /** Runs a check now (or right after the one in flight), then schedules the next. */
  private checkSoon(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.checkOnce().finally(() => {
      this.running = undefined;
      if (this.stopped) return;
      if (this.again) {
        this.again = false;
        this.checkSoon();
        return;
      }
      this.timer = setTimeout(() => this.checkSoon(), this.intervalMs).unref();
    });
  }

  /** One check of the current config; resolves once its outcome is reported. */
  private async checkOnce(): Promise<void> {
    const config = this.config!;
    const abort = new AbortController();
    let timeout: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timeout = setTimeout(() => {
        const err = new Error(`the health check took longer than ${this.timeoutMs / 1000}s`);
        // Rejected before aborting, so that this, not the check's reaction to the abort, is the outcome.
        reject(err);
        abort.abort(err);
      }, this.timeoutMs);
    });
    try {
      await Promise.race([this.connector.healthCheck!(config.value, { log: this.log, signal: abort.signal }), timedOut]);
      if (this.stopped) return;
      if (this.lastFailure !== undefined) this.log.info("health check passes again");
      this.lastFailure = undefined;
      this.metrics?.health(true);
      this.report(true);
    } catch (err) {
      if (this.stopped) return;
      const message = scrub(describeError(err), config.secrets);
      // Once per distinct failure: a destination that stays down is not a warning every interval.
      if (message !== this.lastFailure) this.log.warn("health check failed", { error: message });
      this.lastFailure = message;
      this.metrics?.health(false, err);
      this.report(false);
    } finally {
      clearTimeout(timeout);
      abort.abort();
    }
  }
}
