import { loadConnector } from "../../connectors/registry.js";
import { runStdio } from "../transport/stdio.js";
import { createLogger } from "../log.js";

/**
 * `tributary run <connector|module>`: one protocol session on stdin/stdout. This is
 * what every Docker ENTRYPOINT runs. Extra arguments (older runtimes append
 * `--log.level=...`) are ignored.
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

  const code = await runStdio(connector, { log, signal: stop.signal });
  // Open database pools or timers must not keep a finished session alive.
  process.exit(code);
}
