/**
 * `tributary preview`: run a capture or a materialization of a catalog the
 * way Flow's runtime would, with fault injection. See src/harness/.
 */
import { createReadStream } from "node:fs";
import { parseArgs } from "./args.js";
import { createLogger, type Logger } from "../log.js";
import { watchLeftBehind } from "./left-behind.js";
import { loadCatalog, parseDuration } from "../harness/catalog.js";
import { runCapturePreview } from "../harness/capture-runtime.js";
import { parseProtocolForm } from "../harness/protocol-form.js";
import { HarnessError } from "../harness/errors.js";
import type { WireCodec } from "../harness/wire.js";
import { stringifyJson } from "../harness/lossless-json.js";

export const PREVIEW_USAGE = `usage: tributary preview --source CATALOG [--name TASK] [options]

Runs the capture or materialization TASK of CATALOG (flow.yaml or JSON).

capture options:
  --sessions N,M,...      transactions per connector session, restarting the
                          connector between sessions; -1 = until EOF (default -1)
  --initial-state JSON    connector state of the first session (default {})
  --output-state          print ["connectorState", state] after each transaction
  --output-commits        print {"commit":true} after each transaction, so the
                          output can feed a materialization preview
materialization options:
  --fixture FILE|-        JSON lines ["<collection>", doc]; {"commit": true}
                          ends a transaction (default: stdin)
  --recovery-log PATH     the runtime's recovery log (default: a temp file)
  --crash-at POINT[:N]    SIGKILL the connector at POINT of transaction N
                          (from 1, default 1), then recover: mid-store,
                          after-start-commit, after-started-commit,
                          after-log-commit; or after-open of session N.
                          Several points: comma-separated
  --zombie                open a second session on the same range mid-run
                          and check the first one is fenced off
  --shards N              split the key range over N shards (default 1)
common options:
  --timeout DURATION      stop DURATION after the first session starts (e.g. 30s)
  --codec proto|json      wire codec (default: protobuf for images, JSON for
                          local commands, as Flow does)
  --grpc HOST:PORT        drive the connector served at HOST:PORT (e.g. by
                          \`tributary serve\`) instead of spawning it
  --protocol-form newest|legacy
                          speak the newest protocol (linked collections,
                          projection constraints, backfill markers; default)
                          or the one of older runtimes
  --no-validate           skip JSON-schema validation of documents
  --log-level LEVEL       LOG_LEVEL for the connector
`;

export async function preview(argv: string[]): Promise<number> {
  // Whatever a connector says it left at the source is repeated at the very end.
  const left = watchLeftBehind(createLogger());
  try {
    return await previewWith(argv, left.log);
  } finally {
    left.report();
  }
}

async function previewWith(argv: string[], log: Logger): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(PREVIEW_USAGE);
    return 0;
  }
  const args = parseArgs(argv, {
    values: ["source", "name", "sessions", "initial-state", "timeout", "codec", "fixture", "recovery-log", "crash-at", "shards", "log-level", "grpc", "protocol-form"],
    flags: ["output-state", "output-commits", "zombie", "no-validate"],
  });
  const o = args.options;
  if (typeof o.source !== "string") {
    process.stderr.write(`tributary preview: --source is required\n${PREVIEW_USAGE}`);
    return 2;
  }
  const codec = o.codec as WireCodec | undefined;
  if (codec !== undefined && codec !== "proto" && codec !== "json") throw new HarnessError(`--codec must be proto or json, got ${JSON.stringify(codec)}`);
  const timeoutMs = typeof o.timeout === "string" ? parseDuration(o.timeout, "--timeout") * 1000 : undefined;
  const protocolForm = parseProtocolForm(o["protocol-form"], "--protocol-form");
  const catalog = loadCatalog(o.source, { imageCodec: codec, grpcAddress: typeof o.grpc === "string" ? o.grpc : undefined });
  const name = typeof o.name === "string" ? o.name : undefined;

  if (name !== undefined && !catalog.captures.has(name) && !catalog.materializations.has(name)) {
    const all = [...catalog.captures.keys(), ...catalog.materializations.keys()];
    throw new HarnessError(`no capture or materialization named ${JSON.stringify(name)} in ${catalog.path} (tasks: ${all.join(", ") || "none"})`);
  }
  const isMaterialization = name !== undefined ? catalog.materializations.has(name) : catalog.captures.size === 0 && catalog.materializations.size === 1;
  if (isMaterialization) {
    const { previewMaterialization } = await import("./preview-materialize.js");
    return previewMaterialization(catalog, name, o, { codec, timeoutMs, log, protocolForm });
  }

  for (const matOnly of ["fixture", "recovery-log", "crash-at", "zombie", "shards"]) {
    if (o[matOnly] !== undefined) throw new HarnessError(`--${matOnly} applies to materializations only, and ${JSON.stringify(name ?? "the task")} is a capture`);
  }
  let sessions: number[] | undefined;
  if (typeof o.sessions === "string") {
    sessions = o.sessions.split(",").map((s) => {
      const n = Number(s.trim());
      if (!Number.isInteger(n) || n === 0 || n < -1) throw new HarnessError(`--sessions: ${JSON.stringify(s)} is not a positive transaction count or -1`);
      return n;
    });
  }
  let initialState: unknown;
  if (typeof o["initial-state"] === "string") {
    try {
      initialState = JSON.parse(o["initial-state"]);
    } catch {
      throw new HarnessError("--initial-state must be a JSON value");
    }
  }
  // A reader that goes away (`preview ... | head -3`) ends the preview
  // quietly: the connector is stopped and nothing more is written.
  const readerGone = new AbortController();
  const out = new LineWriter(() => readerGone.abort());
  await runCapturePreview({
    signal: readerGone.signal,
    catalog,
    name,
    sessions,
    initialState,
    timeoutMs,
    codec,
    protocolForm,
    log,
    logLevel: typeof o["log-level"] === "string" ? o["log-level"] : undefined,
    validate: o["no-validate"] !== true,
    collect: false,
    // Documents stream out as the transaction's combiner drains, so a huge
    // transaction never sits in memory whole.
    onDocument: async (c, doc) => {
      out.line(stringifyJson([c, doc]));
      if (out.pending >= 1000) await out.flush();
    },
    onTransaction: async (txn) => {
      if (o["output-state"] === true) out.line(JSON.stringify(["connectorState", txn.state]));
      if (o["output-commits"] === true) out.line('{"commit":true}');
      await out.flush();
      return !out.closed;
    },
  });
  await out.flush();
  return 0;
}

/**
 * Buffers stdout lines and writes them in chunks, honouring backpressure.
 * When the reader closes the pipe (EPIPE), `closed` turns true, `onClosed`
 * is called once, and further output is dropped.
 */
export class LineWriter {
  private parts: string[] = [];
  closed = false;
  private wake: (() => void) | undefined;

  constructor(private readonly onClosed?: () => void) {
    process.stdout.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE" && err.code !== "ERR_STREAM_DESTROYED") throw err;
      if (this.closed) return;
      this.closed = true;
      this.wake?.();
      this.onClosed?.();
    });
  }

  line(s: string) {
    if (!this.closed) this.parts.push(s, "\n");
  }

  /** Lines buffered and not yet written. */
  get pending(): number {
    return this.parts.length / 2;
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0 || this.closed) return;
    const text = this.parts.join("");
    this.parts = [];
    if (process.stdout.write(text)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        process.stdout.off("drain", done);
        this.wake = undefined;
        resolve();
      };
      this.wake = done;
      process.stdout.once("drain", done);
    });
  }
}

export function fixtureStream(path: string | undefined) {
  return path === undefined || path === "-" ? process.stdin : createReadStream(path);
}
