import { loadConnector } from "../../connectors/registry.js";
import { runStdio } from "../transport/stdio.js";
import { createLogger } from "../log.js";
import { ConnectorMetrics } from "../transport/metrics.js";

/** Seconds between two "metrics" log lines (TRIBUTARY_METRICS_INTERVAL; 0 turns them off). */
function metricsInterval(env: NodeJS.ProcessEnv): number {
  const raw = env.TRIBUTARY_METRICS_INTERVAL;
  const seconds = raw === undefined || raw === "" ? 60 : Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) throw new Error(`TRIBUTARY_METRICS_INTERVAL must be a number of seconds, got ${JSON.stringify(raw)}`);
  return seconds;
}

/**
 * `tributary run <connector|module>`: one protocol session on stdin/stdout. This is
 * what every Docker ENTRYPOINT runs. Extra arguments (older runtimes append
 * `--log.level=...`) are ignored.
 *
 * The session's counters (those `serve --metrics-port` exposes) are logged as
 * a "metrics" line every TRIBUTARY_METRICS_INTERVAL seconds (default 60)
 * and once when a session that moved documents ends cleanly; a failure's
 * error stays the last line, as Flow reads it.
 */
export async function run(args: string[]): Promise<number> {
  const name = args.find((a) => !a.startsWith("-"));
  if (!name) throw new Error("usage: tributary run <connector>");
  const connector = await loadConnector(name);
  const log = createLogger({}, { connector: connector.name });

  const stop = new AbortController();
  const onSignal = (sig: string) => () => {
    log.info(`received ${sig}; stopping`);
    stop.abort(new Error(`stopped by ${sig}`));
  };
  process.once("SIGTERM", onSignal("SIGTERM"));
  process.once("SIGINT", onSignal("SIGINT"));

  const interval = metricsInterval(process.env);
  const metrics = interval > 0 ? new ConnectorMetrics(connector.name) : undefined;
  const logMetrics = async () => log.info("metrics", metrics ? await metrics.summary() : {});
  const timer = metrics ? setInterval(() => void logMetrics(), interval * 1000).unref() : undefined;

  const code = await runStdio(connector, { log, signal: stop.signal, metrics });
  clearInterval(timer);
  if (metrics && code === 0) {
    const s = await metrics.summary();
    if (Object.keys(s.documents as object).length > 0) log.info("metrics", s);
  }
  // Open database pools or timers must not keep a finished session alive.
  process.exit(code);
}
