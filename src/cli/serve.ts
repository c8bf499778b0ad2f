/**
 * `tributary serve <connector>`: serve one connector over gRPC until SIGTERM
 * or SIGINT, then drain open streams for a grace period.
 *
 * Prints one line, `listening on <host>:<port>`, to stdout once the server
 * accepts connections; with --metrics-port, `metrics on http://.../metrics`
 * comes just before it. Everything else is logged on stderr.
 *
 * The gRPC health service follows the connector's healthCheck, run every
 * --health-interval (default 10s) with the endpoint config in
 * --health-config FILE (JSON or YAML) or, without it, the config of the
 * most recent Open the server received.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { parseArgs } from "./args.js";
import { loadConnector } from "../../connectors/registry.js";
import { serveGrpc, DEFAULT_GRACE_MS } from "../transport/grpc.js";
import { createLogger } from "../log.js";
import { parseDurationMs } from "../duration.js";
import { DEFAULT_MAX_FRAME } from "../codec/frames.js";
import { ConnectorMetrics, serveMetrics } from "../transport/metrics.js";
import { DEFAULT_HEALTH_INTERVAL_MS, type HealthOptions } from "../transport/health.js";

const USAGE =
  "usage: tributary serve <connector> [--port N] [--host H] [--grace-period SECONDS] [--max-message-size BYTES] [--metrics-port N] " +
  "[--health-config FILE] [--health-interval DURATION]";

function parsePort(value: string, what = "--port"): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) {
    throw new Error(`${what} must be an integer from 0 to 65535 (0 picks a free port), got ${JSON.stringify(value)}`);
  }
  return port;
}

function parseGrace(value: string): number {
  const seconds = Number(value.replace(/s$/, ""));
  if (value.trim() === "" || !Number.isFinite(seconds) || seconds < 0) {
    throw new Error(`--grace-period must be a number of seconds (e.g. 30), got ${JSON.stringify(value)}`);
  }
  return Math.round(seconds * 1000);
}

/** --health-interval in milliseconds (a duration as src/duration.ts reads it: 10s, 500ms, 1m). */
function parseInterval(value: string): number {
  const parsed = parseDurationMs(value);
  const ms = parsed === undefined ? NaN : Math.round(parsed);
  if (!Number.isSafeInteger(ms) || ms < 1) {
    throw new Error(`--health-interval must be a positive duration such as 10s, 500ms or 1m, got ${JSON.stringify(value)}`);
  }
  return ms;
}

/** The endpoint config in a JSON or YAML file, as JSON text (validated later against the connector's schema). */
function readHealthConfig(file: string): string {
  let raw: string;
  try {
    raw = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`--health-config: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let value: unknown;
  try {
    value = parseYaml(raw);
  } catch {
    // The parser quotes the offending text, which may be a secret: keep only the file name.
    throw new Error(`--health-config: ${file} is neither JSON nor YAML`);
  }
  return JSON.stringify(value ?? null);
}

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 };

/** A byte count: digits with an optional K/KiB, M/MiB or G/GiB suffix (powers of 1024). */
function parseSize(value: string): number {
  const m = /^(\d+)\s*([a-z]*)$/i.exec(value.trim());
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  const bytes = m && unit ? Number(m[1]) * unit : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1 || bytes > 2 ** 31 - 1) {
    throw new Error(`--max-message-size must be a byte count from 1 to 2GiB-1, such as 268435456 or 256MiB, got ${JSON.stringify(value)}`);
  }
  return bytes;
}

export async function serve(args: string[]): Promise<number> {
  const { positional, options } = parseArgs(args, { values: ["port", "host", "grace-period", "max-message-size", "metrics-port", "health-config", "health-interval"] });
  if (positional.length !== 1) throw new Error(USAGE);
  const name = positional[0]!;
  const port = typeof options.port === "string" ? parsePort(options.port) : 9000;
  const host = typeof options.host === "string" ? options.host : "127.0.0.1";
  const graceMs = typeof options["grace-period"] === "string" ? parseGrace(options["grace-period"]) : DEFAULT_GRACE_MS;
  const maxMessageBytes = typeof options["max-message-size"] === "string" ? parseSize(options["max-message-size"]) : DEFAULT_MAX_FRAME;

  const health: HealthOptions = {
    intervalMs: typeof options["health-interval"] === "string" ? parseInterval(options["health-interval"]) : DEFAULT_HEALTH_INTERVAL_MS,
    config: typeof options["health-config"] === "string" ? readHealthConfig(options["health-config"]) : undefined,
  };

  const connector = await loadConnector(name);
  const log = createLogger().with({ connector: connector.name });
  const shown = host.includes(":") ? `[${host}]` : host;
  let metrics: ConnectorMetrics | undefined;
  let metricsServer: { port: number; close(): Promise<void> } | undefined;
  if (typeof options["metrics-port"] === "string") {
    metrics = new ConnectorMetrics(connector.name);
    metricsServer = await serveMetrics(metrics, host, parsePort(options["metrics-port"], "--metrics-port"));
    // Printed before the gRPC line, so that a caller waiting for "listening on" knows both.
    process.stdout.write(`metrics on http://${shown}:${metricsServer.port}/metrics\n`);
  }
  const server = await serveGrpc(connector, { host, port, log, maxMessageBytes, metrics, health });
  process.stdout.write(`listening on ${shown}:${server.port}\n`);
  log.info("serving", { protocol: connector.protocol, host, port: server.port, maxMessageBytes });

  // The first signal starts a graceful drain; another one cuts it short.
  let signals = 0;
  const shutdown = await new Promise<Promise<{ forced: boolean }>>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals === 1) {
        log.info("shutting down", { signal, graceMs });
        resolve(server.close(graceMs));
      } else {
        log.warn("second signal: cancelling open streams now", { signal });
        void server.close(0);
      }
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
  const { forced } = await shutdown;
  await metricsServer?.close();
  log.info(forced ? "stopped after cancelling open streams" : "stopped");
  return forced ? 1 : 0;
}
