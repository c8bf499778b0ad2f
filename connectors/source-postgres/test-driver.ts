/**
 * A stand-in runtime end for tests and benchmarks that need the connector in
 * its own process (to kill it, or to measure its memory): runs one capture
 * session and writes its output to stdout, one line per message:
 *   D<binding>\t<document JSON>   S<binding>\t<schema JSON>   C<state update JSON>
 * and reads acknowledgements from stdin, one count per line.
 * Usage: node test-driver.js '<config JSON>' '<bindings JSON>' '<state JSON>'
 * TRIBUTARY_DRIVER_CONNECTOR names another capture connector of the registry
 * to run instead of source-postgres (source-mysql's tests use this driver too).
 */
import { createInterface } from "node:readline";
import type { CaptureOutput, StateUpdate } from "../../src/sdk/types.js";
import { docText } from "../../src/sdk/capture.js";
import { createLogger } from "../../src/log.js";
import pgConnector from "./connector.js";
import { loadConnector } from "../registry.js";
import type { CaptureConnector } from "../../src/sdk/types.js";

const [config, bindings, state] = process.argv.slice(2).map((a) => JSON.parse(a));
const other = process.env.TRIBUTARY_DRIVER_CONNECTOR;
const connector = (other ? await loadConnector(other) : pgConnector) as CaptureConnector;
let buffered = "";

function write(force: boolean): void | Promise<void> {
  if (!force && buffered.length < 1 << 16) return;
  const ok = process.stdout.write(buffered);
  buffered = "";
  if (!ok) return new Promise((r) => process.stdout.once("drain", () => r()));
}

let ackHandler: ((n: number) => void | Promise<void>) | undefined;
const out: CaptureOutput = {
  async opened() {},
  document(binding, doc) {
    pendingDocs = true;
    buffered += `D${binding}\t${docText(doc)}\n`;
    return write(false) ?? Promise.resolve();
  },
  async sourcedSchema(binding, schema) {
    buffered += `S${binding}\t${JSON.stringify(schema)}\n`;
  },
  async checkpoint(s) {
    pendingDocs = false;
    buffered += `C${JSON.stringify(s.updated)}\n`;
    await write(true);
  },
  // As the SDK does: pending documents commit first, then the marker alone
  // in its checkpoint. The parent ignores `M` lines.
  backfillBegin(binding, s) {
    return marker("begin", binding, s);
  },
  backfillComplete(binding, s) {
    return marker("complete", binding, s);
  },
  onAcknowledge(h) {
    ackHandler = h;
  },
};
let pendingDocs = false;
async function marker(kind: string, binding: number, s?: StateUpdate): Promise<number> {
  const extra = pendingDocs;
  if (extra) await out.checkpoint({ updated: {} });
  buffered += `M${kind}\t${binding}\n`;
  await out.checkpoint(s ?? { updated: {} });
  return extra ? 2 : 1;
}

createInterface({ input: process.stdin }).on("line", (line) => void ackHandler?.(Number(line)));
const ac = new AbortController();
process.on("SIGTERM", () => ac.abort());
connector
  .open(
    {
      config,
      bindings: (bindings as { namespace: string; stream: string }[]).map((b) => ({
        resourceConfig: b,
        resourcePath: [b.namespace, b.stream],
        collection: {} as never,
        backfill: 0,
        stateKey: `${b.namespace}%2F${b.stream}`,
      })),
      spec: {} as never,
      version: "driver",
      range: {} as never,
      state,
    },
    out,
    { log: createLogger(), signal: ac.signal },
  )
  .then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`${(err as Error).message}\n`);
      process.exit(1);
    },
  );
