/**
 * The `tributary` command line. Each sub-command lives in its own module and
 * is imported only when used.
 */
import { describeError } from "../sdk/errors.js";

const USAGE = `usage: tributary <command> [options]

commands:
  run <connector>                 speak the connector protocol on stdin/stdout
                                  (codec from FLOW_RUNTIME_CODEC: json, else protobuf);
                                  <connector> is a name from \`list\` or a module path
                                  such as ./dist/connector.js
  serve <connector> [--port N] [--host H] [--grace-period S] [--max-message-size B] [--metrics-port N]
                                  serve the connector over gRPC (default 127.0.0.1:9000;
                                  requests up to 256MiB unless B says otherwise;
                                  Prometheus metrics at :N/metrics with --metrics-port)
  convert --type T --from F --to F
                                  convert one message between protobuf and Flow JSON
  preview --source CATALOG ...    run a capture or materialization like Flow's runtime
  discover --source CATALOG [--name CAPTURE]
                                  run a capture's Discover and merge its bindings
                                  and collection schemas into CATALOG
  list                            name the connectors in this build
  new <name> --capture|--materialize [--dir D] [--tributary SPEC]
                                  create a connector project outside this repository
`;

type Command = (args: string[]) => Promise<number>;

const commands: Record<string, () => Promise<Command>> = {
  run: async () => (await import("./run.js")).run,
  serve: async () => (await import("./serve.js")).serve,
  convert: async () => (await import("./convert.js")).convertCommand,
  preview: async () => (await import("./preview.js")).preview,
  discover: async () => (await import("./discover.js")).discover,
  list: async () => (await import("./list.js")).list,
  new: async () => (await import("./new.js")).newProject,
};

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(USAGE);
    process.exitCode = name ? 0 : 2;
    return;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`tributary: unknown command ${JSON.stringify(name)}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  try {
    process.exitCode = await (await load())(rest);
  } catch (err) {
    process.stderr.write(`tributary ${name}: ${describeError(err)}\n`);
    process.exitCode = 1;
  }
}
