/**
 * `tributary serve <connector>`: serve one connector over gRPC until SIGTERM
 * or SIGINT, then drain open streams for a grace period.
 *
 * Prints one line, `listening on <host>:<port>`, to stdout once the server
 * accepts connections; with --metrics-port, `metrics on http://.../metrics`
 * comes just before it. Everything else is logged on stderr.
 */
import { parseArgs } from "./args.js";
import { loadConnector } from "../../connectors/registry.js";
import { serveGrpc, DEFAULT_GRACE_MS } from "../transport/grpc.js";
import { createLogger } from "../log.js";
import { DEFAULT_MAX_FRAME } from "../codec/frames.js";
import { ConnectorMetrics, serveMetrics } from "../transport/metrics.js";

const USAGE = "usage: tributary serve <connector> [--port N] [--host H] [--grace-period SECONDS] [--max-message-size BYTES] [--metrics-port N]";

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
  const { positional, options } = parseArgs(args, { values: ["port", "host", "grace-period", "max-message-size", "metrics-port"] });
  if (positional.length !== 1) throw new Error(USAGE);
  const name = positional[0]!;
  const port = typeof options.port === "string" ? parsePort(options.port) : 9000;
  const host = typeof options.host === "string" ? options.host : "127.0.0.1";
  const graceMs = typeof options["grace-period"] === "string" ? parseGrace(options["grace-period"]) : DEFAULT_GRACE_MS;
  const maxMessageBytes = typeof options["max-message-size"] === "string" ? parseSize(options["max-message-size"]) : DEFAULT_MAX_FRAME;

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
  const server = await serveGrpc(connector, { host, port, log, maxMessageBytes, metrics });
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
