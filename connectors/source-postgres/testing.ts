/**
 * Test support: runs the connector in-process against an output that
 * behaves like the runtime (documents pending until a checkpoint, state
 * reduced by merge patch, checkpoints acknowledged after they "commit").
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import type { CaptureOutput, JsonSchema, StateUpdate } from "../../src/sdk/types.js";
import { docText } from "../../src/sdk/capture.js";
import { startCaptureSession, type TestBinding } from "../../test/support/capture-in-process.js";
import connector from "./connector.js";
import type { CaptureState } from "./capture.js";

export interface Captured {
  binding: number;
  text: string;
  doc: any;
}

/** RFC 7396 merge. */
export function mergePatch(target: any, patch: any): any {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out = target && typeof target === "object" && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class MemoryOutput implements CaptureOutput {
  pending: Captured[] = [];
  committed: Captured[] = [];
  state: CaptureState;
  checkpoints = 0;
  schemas: { binding: number; schema: JsonSchema }[] = [];
  private ack?: (n: number) => void | Promise<void>;
  private waiters: (() => void)[] = [];
  /** When false, checkpoints are not acknowledged (the runtime is "slow"). */
  autoAck = true;
  /** Set when the session using this output failed, so waits end at once. */
  failure: unknown;

  constructor(initial: CaptureState = {}) {
    this.state = initial;
  }
  async opened(): Promise<void> {}
  async document(binding: number, doc: unknown): Promise<void> {
    const text = docText(doc);
    this.pending.push({ binding, text, doc: JSON.parse(text) });
  }
  async sourcedSchema(binding: number, schema: JsonSchema): Promise<void> {
    this.schemas.push({ binding, schema });
  }
  async checkpoint(s: StateUpdate): Promise<void> {
    this.state = s.mergePatch === false ? (s.updated as CaptureState) : mergePatch(this.state, s.updated);
    this.committed.push(...this.pending);
    this.pending = [];
    this.checkpoints++;
    if (this.autoAck && this.ack) setImmediate(() => void this.ack?.(1));
    for (const w of this.waiters.splice(0)) w();
  }
  /** Backfill markers in order, with the checkpoints and documents committed before each. */
  markers: { kind: "begin" | "complete"; binding: number; afterCheckpoints: number; afterDocs: number }[] = [];
  backfillBegin(binding: number, s?: StateUpdate): Promise<number> {
    return this.marker("begin", binding, s);
  }
  backfillComplete(binding: number, s?: StateUpdate): Promise<number> {
    return this.marker("complete", binding, s);
  }
  /** As the SDK does: pending documents commit first, then the marker alone in its checkpoint. */
  private async marker(kind: "begin" | "complete", binding: number, s?: StateUpdate): Promise<number> {
    const none = { updated: {}, mergePatch: true };
    const extra = this.pending.length > 0;
    if (extra) await this.checkpoint(none);
    this.markers.push({ kind, binding, afterCheckpoints: this.checkpoints, afterDocs: this.committed.length });
    await this.checkpoint(s ?? none);
    return extra ? 2 : 1;
  }
  onAcknowledge(handler: (n: number) => void | Promise<void>): void {
    this.ack = handler;
  }
  /** Resolves when `pred` holds after some checkpoint (or now). */
  async until(pred: () => boolean, timeoutMs = 30_000, what = "condition"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (this.failure) throw new Error(`the capture failed while waiting for ${what}: ${(this.failure as Error).message}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }
}

export type { TestBinding };

/** Starts a capture session; `stop()` aborts it and waits for it to end. */
export function startCapture(config: Record<string, unknown>, bindings: TestBinding[], out: MemoryOutput, logs?: string[]) {
  return startCaptureSession(connector, config, bindings, out, logs);
}

/** Reduces documents by key (last write wins, deletes remove), as a collection would. */
export function reduceByKey(docs: Captured[], key: (doc: any) => string): Map<string, any> {
  const m = new Map<string, any>();
  for (const { doc } of docs) {
    const k = key(doc);
    if (doc._meta.op === "d") m.delete(k);
    else m.set(k, { ...(m.get(k) ?? {}), ...doc });
  }
  return m;
}

/**
 * The connector in a child process (test-driver.js) with a runtime-like
 * parent: documents are pending until a checkpoint line, checkpoints are
 * acknowledged, and a kill loses whatever was not checkpointed.
 */
export class DriverProcess {
  pending: Captured[] = [];
  committed: Captured[] = [];
  pendingCount = 0;
  committedCount = 0;
  /** Bytes of document JSON, pending and committed. */
  pendingBytes = 0;
  committedBytes = 0;
  /** performance.now() when the first document arrived. */
  firstDocAt = 0;
  checkpoints = 0;
  state: CaptureState;
  stderr = "";
  readonly exited: Promise<number | null>;
  private readonly child: import("node:child_process").ChildProcess;
  private waiters: (() => void)[] = [];

  /** `connector`: another capture connector of the registry to run in the driver (default source-postgres). */
  constructor(config: Record<string, unknown>, bindings: TestBinding[], state: CaptureState, opts: { keep?: boolean; connector?: string } = {}) {
    const keep = opts.keep ?? true;
    this.state = state;
    const script = new URL("../../dist/connectors/source-postgres/test-driver.js", import.meta.url).pathname.replace("/dist/dist/", "/dist/");
    this.child = spawn(process.execPath, [script, JSON.stringify(config), JSON.stringify(bindings), JSON.stringify(state)], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? "warn", ...(opts.connector ? { TRIBUTARY_DRIVER_CONNECTOR: opts.connector } : {}) },
    });
    this.child.stderr!.on("data", (b) => (this.stderr += b));
    this.child.stdin!.on("error", () => {});
    const onCheckpoint = (json: string) => {
      this.state = mergePatch(this.state, JSON.parse(json));
      this.committed.push(...this.pending);
      this.pending = [];
      this.committedCount += this.pendingCount;
      this.pendingCount = 0;
      this.committedBytes += this.pendingBytes;
      this.pendingBytes = 0;
      this.checkpoints++;
      this.child.stdin!.write("1\n");
      for (const w of this.waiters.splice(0)) w();
    };
    if (keep) {
      createInterface({ input: this.child.stdout! }).on("line", (line) => {
        try {
          onLine(line);
        } catch (err) {
          // A process killed mid-write leaves a partial last line: it was never sent in full, so it is dropped.
          if (!this.killed) throw err;
        }
      });
      const onLine = (line: string) => {
        if (line[0] === "D") {
          if (this.firstDocAt === 0) this.firstDocAt = performance.now();
          const tab = line.indexOf("\t");
          const text = line.slice(tab + 1);
          this.pendingCount++;
          this.pendingBytes += text.length;
          this.pending.push({ binding: Number(line.slice(1, tab)), text, doc: JSON.parse(text) });
        } else if (line[0] === "C") onCheckpoint(line.slice(1));
      };
    } else {
      // Counting only (benchmarks): scan bytes for line starts, so the parent
      // costs little CPU beside the connector it measures.
      let rest: Buffer | null = null;
      this.child.stdout!.on("data", (chunk: Buffer) => {
        const buf: Buffer = rest ? Buffer.concat([rest, chunk]) : chunk;
        let start = 0;
        for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
          const tag = buf[start];
          if (tag === 0x44 /* D */) {
            if (this.firstDocAt === 0) this.firstDocAt = performance.now();
            this.pendingCount++;
            this.pendingBytes += nl - buf.indexOf(9, start) - 1;
          } else if (tag === 0x43 /* C */) onCheckpoint(buf.toString("utf8", start + 1, nl));
          start = nl + 1;
        }
        rest = start < buf.length ? Buffer.from(buf.subarray(start)) : null;
      });
    }
    this.exited = new Promise((r) => this.child.on("exit", (code) => r(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Peak resident set size of the connector process so far, in MB (Linux). */
  peakRssMb(): number {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.child.pid}/status`, "utf8"));
      return m ? Number(m[1]) / 1024 : NaN;
    } catch {
      return NaN;
    }
  }

  async until(pred: () => boolean, timeoutMs = 30_000, what = "condition"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (this.child.exitCode !== null) throw new Error(`connector exited (${this.child.exitCode}) while waiting for ${what}: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr: ${this.stderr.slice(-2000)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  private killed = false;

  kill(signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    this.killed = true;
    this.child.kill(signal);
    return this.exited;
  }
}
