/**
 * `tributary serve <connector>`: serve one connector over gRPC until SIGTERM
 * or SIGINT, then drain open streams for a grace period.
 *
 * Prints exactly one line, `listening on <host>:<port>`, to stdout once the
 * server accepts connections; everything else is logged on stderr.
 */
import { parseArgs } from "./args.js";
import { loadConnector } from "../../connectors/registry.js";
import { serveGrpc, DEFAULT_GRACE_MS } from "../transport/grpc.js";
import { createLogger } from "../log.js";

const USAGE = "usage: tributary serve <connector> [--port N] [--host H] [--grace-period SECONDS]";

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) {
    throw new Error(`--port must be an integer from 0 to 65535 (0 picks a free port), got ${JSON.stringify(value)}`);
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

export async function serve(args: string[]): Promise<number> {
  const { positional, options } = parseArgs(args, { values: ["port", "host", "grace-period"] });
  if (positional.length !== 1) throw new Error(USAGE);
  const name = positional[0]!;
  const port = typeof options.port === "string" ? parsePort(options.port) : 9000;
  const host = typeof options.host === "string" ? options.host : "127.0.0.1";
  const graceMs = typeof options["grace-period"] === "string" ? parseGrace(options["grace-period"]) : DEFAULT_GRACE_MS;

  const log = createLogger().with({ connector: name });
  const connector = await loadConnector(name);
  const server = await serveGrpc(connector, { host, port, log });
  const shown = host.includes(":") ? `[${host}]` : host;
  process.stdout.write(`listening on ${shown}:${server.port}\n`);
  log.info("serving", { protocol: connector.protocol, host, port: server.port });

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
  log.info(forced ? "stopped after cancelling open streams" : "stopped");
  return forced ? 1 : 0;
}
