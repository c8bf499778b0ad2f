/**
 * Drivers shared by the capture benchmarks: a connector run as users run it
 * (`tributary run <name>` over protobuf stdio, acknowledged like Flow's
 * runtime), and the connector in this process with a count-only output.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { RequestSchema, ResponseSchema } from "../../src/gen/capture/capture_pb.js";
import { messageCodec } from "../../src/codec/wire.js";
import { FrameWriter } from "../../src/codec/frames.js";
import type { BuiltCapture } from "../../src/harness/index.js";
import { fullRange } from "../../src/harness/index.js";
import { mergePatch } from "../../connectors/source-postgres/testing.js";
import { RawJson, RawJsonBytes, type CaptureConnector, type CaptureOutput } from "../../src/sdk/types.js";
import { createLogger } from "../../src/log.js";
import { SENT } from "../../src/sdk/capture.js";
import { cpuSeconds, peakRssMb } from "./_measure.js";
import { FrameScanner } from "./_frame-scanner.js";
import { stdoutPipe } from "./_pipe.js";

const REPO = fileURLToPath(new URL("../../..", import.meta.url));
const requests = messageCodec(RequestSchema, "proto");
const responses = messageCodec(ResponseSchema, "proto");

function frame(req: Parameters<typeof requests.encode>[0]): Buffer {
  const w = new FrameWriter("proto");
  w.append(requests.encode(req));
  return Buffer.from(w.take());
}

/** Where the last varint() ended: a second result without an array per call (the driver reads three per document). */
let varintEnd = 0;

/** Reads a protobuf varint at `pos`; sets varintEnd to the position after it. */
function varint(b: Uint8Array, pos: number): number {
  let v = 0;
  let mul = 1;
  for (;;) {
    const byte = b[pos++]!;
    v += (byte & 0x7f) * mul;
    if (byte < 0x80) {
      varintEnd = pos;
      return v;
    }
    mul *= 128;
  }
}

/** Response.captured is field 6, length-delimited; Captured.doc_json is its field 2. */
const CAPTURED_TAG = (6 << 3) | 2;
const DOC_JSON_TAG = (2 << 3) | 2;

/** Bytes of doc_json in the Captured frame whose payload starts at `at`, read from the field headers without decoding the message. */
function docJsonLength(f: Uint8Array, at: number): number {
  const len = varint(f, at + 1);
  let pos = varintEnd;
  const end = pos + len;
  while (pos < end) {
    const tag = f[pos++]!;
    if (tag === DOC_JSON_TAG) return varint(f, pos);
    if ((tag & 7) === 0) {
      varint(f, pos);
      pos = varintEnd;
    } else if ((tag & 7) === 2) {
      const n = varint(f, pos);
      pos = varintEnd + n;
    } else throw new Error(`unexpected wire type in capture.Response.Captured (tag ${tag})`);
  }
  return 0;
}

/**
 * `tributary run <connector>` driven like Flow's runtime drives it: one
 * Open, then framed responses; documents count as committed at the
 * Checkpoint that follows them, and each Checkpoint is acknowledged when
 * Opened asked for that (a connector may confirm its source position only then).
 * Its stdout is a real pipe read into one reused buffer and split into frames
 * in place (_pipe.ts, _frame-scanner.ts): like the runtime, the driver reads
 * every frame but decodes only the non-document ones, and allocates nothing
 * per read or per document.
 */
export class StdioCapture {
  committedCount = 0;
  committedBytes = 0;
  private pendingCount = 0;
  private pendingBytes = 0;
  firstDocAt = 0;
  /** Chunks read from the connector's stdout and their bytes. */
  reads = 0;
  readBytes = 0;
  /** The connector process's CPU seconds when its first document arrived. */
  private cpuAtFirstDoc = NaN;
  state: any;
  stderr = "";
  readonly startedAt = performance.now();
  private explicitAcks = false;
  private readonly child: ChildProcessByStdio<Writable, null, Readable>;
  private readonly exited: Promise<number | null>;
  private waiters: (() => void)[] = [];
  private failure: Error | undefined;
  private readonly cpuAtStart = process.cpuUsage();

  constructor(built: BuiltCapture, state: object, connectorName: string) {
    this.state = state;
    // BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the connector.
    const nodeArgs = process.env.BENCH_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
    const stdout = stdoutPipe();
    try {
      this.child = spawn(process.execPath, [...nodeArgs, `${REPO}bin/tributary`, "run", connectorName], {
        stdio: ["pipe", stdout.writeFd, "pipe"],
        env: { ...process.env, FLOW_RUNTIME_CODEC: "proto", LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" },
      }) as ChildProcessByStdio<Writable, null, Readable>;
    } finally {
      // The child has its own copy; ours would keep the pipe from ending when the child exits.
      stdout.closeWriteEnd();
    }
    this.child.stderr.on("data", (b) => (this.stderr = (this.stderr + b).slice(-4000)));
    this.child.stdin.on("error", () => {});
    const ack = frame(create(RequestSchema, { acknowledge: { checkpoints: 1 } }));
    const scanner = new FrameScanner((b, start, end) => {
      if (b[start] === CAPTURED_TAG) {
        if (this.firstDocAt === 0) {
          this.firstDocAt = performance.now();
          this.cpuAtFirstDoc = cpuSeconds(this.child.pid);
        }
        this.pendingCount++;
        this.pendingBytes += docJsonLength(b, start);
        return;
      }
      const res = responses.decode(b.subarray(start, end));
      if (res.opened) this.explicitAcks = res.opened.explicitAcknowledgements;
      else if (res.checkpoint) {
        const s = res.checkpoint.state!;
        const updated = JSON.parse(new TextDecoder().decode(s.updatedJson));
        this.state = s.mergePatch ? mergePatch(this.state, updated) : updated;
        this.committedCount += this.pendingCount;
        this.committedBytes += this.pendingBytes;
        this.pendingCount = this.pendingBytes = 0;
        if (this.explicitAcks) this.child.stdin.write(ack);
        for (const w of this.waiters.splice(0)) w();
      }
    });
    stdout
      .read((buf, n) => {
        this.reads++;
        this.readBytes += n;
        if (this.failure) return;
        try {
          scanner.push(buf.subarray(0, n));
        } catch (err) {
          this.failure = err as Error;
        }
      })
      .on("error", (err) => (this.failure ??= err));
    this.exited = new Promise((r) => this.child.on("exit", (code) => r(code)));
    this.child.stdin.write(
      frame(create(RequestSchema, { open: { capture: built.spec, version: built.version, range: fullRange(), stateJson: JSON.stringify(state) } })),
    );
  }

  peakRssMb(): number {
    return peakRssMb(this.child.pid);
  }

  /** The connector process's CPU seconds (user + system) since its first document: its cost without start-up. */
  connectorCpuSeconds(): number {
    return cpuSeconds(this.child.pid) - this.cpuAtFirstDoc;
  }

  /** This (driver) process's CPU seconds since the connector started. */
  driverCpuSeconds(): number {
    const u = process.cpuUsage(this.cpuAtStart);
    return (u.user + u.system) / 1e6;
  }

  async until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (this.failure) throw new Error(`reading the connector's responses while waiting for ${what}: ${this.failure.message}`);
      if (this.child.exitCode !== null) throw new Error(`connector exited (${this.child.exitCode}) while waiting for ${what}: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr: ${this.stderr}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  /** Ends the session the runtime's way (closing stdin), then makes sure the process is gone. */
  async stop(): Promise<void> {
    this.child.stdin.end();
    const t = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(t);
  }
}

/**
 * The connector in this process with an output that only counts: its own
 * cost without a pipe or a parent. Returns docs, bytes and seconds from the
 * first document to the checkpoint where `done` holds, and this process's
 * CPU seconds over the same span.
 */
export async function inProcess(
  connector: CaptureConnector,
  config: any,
  bindings: { namespace: string; stream: string }[],
  state: object,
  done: (docs: number, updated: any) => boolean,
) {
  const ac = new AbortController();
  let docs = 0;
  let bytes = 0;
  let first = 0;
  let end = 0;
  let cpuFirst: NodeJS.CpuUsage | undefined;
  let cpu: NodeJS.CpuUsage | undefined;
  let ack: ((n: number) => void | Promise<void>) | undefined;
  const out: CaptureOutput = {
    async opened() {},
    document(_b, d) {
      if (docs++ === 0) {
        first = performance.now();
        cpuFirst = process.cpuUsage();
      }
      bytes += d instanceof RawJsonBytes ? d.bytes.length : (d as RawJson).text.length;
      return SENT;
    },
    sourcedSchema: () => SENT,
    async checkpoint(s) {
      if (docs > 0 && done(docs, s.updated)) {
        end = performance.now();
        cpu = process.cpuUsage(cpuFirst);
        ac.abort();
      }
      setImmediate(() => void ack?.(1));
    },
    async backfillBegin(_b, s) {
      await out.checkpoint(s ?? { updated: {} });
      return 1;
    },
    async backfillComplete(_b, s) {
      await out.checkpoint(s ?? { updated: {} });
      return 1;
    },
    onAcknowledge(h) {
      ack = h;
    },
  };
  const open = bindings.map((b) => ({
    resourceConfig: b,
    resourcePath: [b.namespace, b.stream],
    collection: {} as never,
    backfill: 0,
    stateKey: `${b.namespace}%2F${b.stream}`,
  }));
  await connector.open({ config, bindings: open, spec: {} as never, version: "bench", range: {} as never, state }, out, { log: createLogger({ level: "warn" }), signal: ac.signal });
  return { docs, bytes, seconds: (end - first) / 1000, cpu: cpu ? (cpu.user + cpu.system) / 1e6 : NaN };
}

