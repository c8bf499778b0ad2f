/**
 * Test support: runs the connector in-process against an output that
 * behaves like the runtime (documents pending until a checkpoint, state
 * reduced by merge patch, checkpoints acknowledged after they "commit").
 */
import { RawJson, type CaptureOutput, type JsonSchema, type StateUpdate } from "../../src/sdk/types.js";
import { createLogger } from "../../src/log.js";
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

  constructor(initial: CaptureState = {}) {
    this.state = initial;
  }
  async opened(): Promise<void> {}
  document(binding: number, doc: unknown): void {
    const text = doc instanceof RawJson ? doc.text : JSON.stringify(doc);
    this.pending.push({ binding, text, doc: JSON.parse(text) });
  }
  sourcedSchema(binding: number, schema: JsonSchema): void {
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
  onAcknowledge(handler: (n: number) => void | Promise<void>): void {
    this.ack = handler;
  }
  /** Resolves when `pred` holds after some checkpoint (or now). */
  async until(pred: () => boolean, timeoutMs = 30_000, what = "condition"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }
}

export interface TestBinding {
  namespace: string;
  stream: string;
  stateKey?: string;
}

/** Starts a capture session; `stop()` aborts it and waits for it to end. */
export function startCapture(config: Record<string, unknown>, bindings: TestBinding[], out: MemoryOutput, logs?: string[]) {
  const ac = new AbortController();
  const log = createLogger({ level: process.env.LOG_LEVEL ?? "warn", write: logs ? (l) => void logs.push(l) : undefined });
  const done = connector.open(
    {
      config: config as any,
      bindings: bindings.map((b) => ({
        resourceConfig: { namespace: b.namespace, stream: b.stream },
        resourcePath: [b.namespace, b.stream],
        collection: {} as any,
        backfill: 0,
        stateKey: b.stateKey ?? `${b.namespace}%2F${b.stream}`,
      })),
      spec: {} as any,
      version: "test",
      range: {} as any,
      state: structuredClone(out.state),
    },
    out,
    { log, signal: ac.signal },
  );
  let error: unknown;
  done.catch((e) => (error = e));
  return {
    done,
    get error() {
      return error;
    },
    async stop() {
      ac.abort();
      await done.catch(() => {});
    },
  };
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
