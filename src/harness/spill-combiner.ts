/**
 * A combiner whose memory is bounded, as Flow's runtime bounds its own
 * (doc::combine: a MemTable spilled as a sorted segment to a spill file once
 * it passes a memory threshold, and a heap merge of the segments on drain):
 * documents of one transaction are combined by (binding, key) in memory;
 * past `budgetBytes` of (estimated) document text, the entries are sorted
 * and appended to a temporary spill file as one run, and memory starts over.
 * Draining merges the runs (and what is left in memory) in binding, then
 * packed-key order, reducing a key's documents from older runs into newer
 * ones, reading each run through a small buffer.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Shape } from "./schema-shape.js";
import { Combiner, type Combined } from "./combiner.js";
import { parseJson, stringifyJson } from "./lossless-json.js";
import { reduce } from "./reduce.js";

/** Default budget: estimated heap bytes of combined entries held before a spill. */
export const DEFAULT_COMBINER_BUDGET = 64 * 1024 * 1024;
/** Bytes read from a run at a time while draining. */
const READ_CHUNK = 256 * 1024;
/** Per-entry cost in the JS heap beyond its document (map entry, key array, packed key, object headers), measured roughly. */
const ENTRY_OVERHEAD = 1000;

interface Run {
  start: number;
  end: number;
}

/** Reads one run's records in order through a buffer. */
class RunReader {
  private buf = Buffer.alloc(0);
  private pos: number;
  head: Combined | undefined;

  constructor(
    private readonly fd: number,
    private readonly run: Run,
    readonly index: number,
  ) {
    this.pos = run.start;
  }

  private fill(need: number): boolean {
    while (this.buf.length < need) {
      if (this.pos >= this.run.end) return false;
      const chunk = Buffer.alloc(Math.min(Math.max(READ_CHUNK, need - this.buf.length), this.run.end - this.pos));
      const n = readSync(this.fd, chunk, 0, chunk.length, this.pos);
      this.pos += n;
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk.subarray(0, n)]) : chunk.subarray(0, n);
    }
    return true;
  }

  /** Advances to the next record; false at the end of the run. */
  next(): boolean {
    if (!this.fill(12)) {
      this.head = undefined;
      return false;
    }
    const binding = this.buf.readUInt32LE(0);
    const keyLen = this.buf.readUInt32LE(4);
    const docLen = this.buf.readUInt32LE(8);
    const total = 12 + keyLen + docLen;
    if (!this.fill(total)) throw new Error("spill file: truncated record");
    const packed = new Uint8Array(this.buf.subarray(12, 12 + keyLen));
    const [key, doc] = parseJson(this.buf.toString("utf8", 12 + keyLen, total)) as [unknown[], unknown];
    this.buf = this.buf.subarray(total);
    this.head = { binding, key, packed, doc };
    return true;
  }
}

function before(a: RunReader, b: RunReader): boolean {
  const x = a.head!;
  const y = b.head!;
  return (x.binding - y.binding || Buffer.compare(x.packed, y.packed) || a.index - b.index) < 0;
}

/** A binary min-heap of run readers ordered by their head entry, older runs first on ties. */
class ReaderHeap {
  private items: RunReader[] = [];
  get size() {
    return this.items.length;
  }
  peek(): RunReader | undefined {
    return this.items[0];
  }
  push(r: RunReader) {
    const a = this.items;
    a.push(r);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): RunReader | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l]!, a[m]!)) m = l;
        if (r < a.length && before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

export class SpillingCombiner {
  private mem: Combiner;
  private memBytes = 0;
  private dir: string | undefined;
  private fd: number | undefined;
  private fileEnd = 0;
  private readonly runs: Run[] = [];
  private spilledEntries = 0;

  constructor(
    private readonly shapes: Shape[],
    private readonly budgetBytes = DEFAULT_COMBINER_BUDGET,
  ) {
    this.mem = new Combiner(shapes);
  }

  /** Runs written to the spill file so far. */
  get spills(): number {
    return this.runs.length;
  }

  /** Combined entries held in memory now. */
  get inMemory(): number {
    return this.mem.size;
  }

  /** Combined entries held, in memory and in spilled runs (a key in several runs counts once per run). */
  get size(): number {
    return this.mem.size + this.spilledEntries;
  }

  /** Adds a newer document of `key`; `sizeHint` is its JSON text length when known. */
  add(binding: number, key: unknown[], doc: unknown, packed: Uint8Array, sizeHint?: number): void {
    const isNew = this.mem.add(binding, key, doc, packed);
    // A parsed document takes about twice its JSON text in the heap.
    this.memBytes += 2 * (sizeHint ?? stringifyJson(doc).length) + (isNew ? ENTRY_OVERHEAD + packed.length : 0);
    if (this.memBytes > this.budgetBytes) this.spill();
  }

  /** Writes the in-memory entries as one sorted run and starts over. */
  private spill(): void {
    const entries = this.mem.drain();
    if (entries.length === 0) return;
    if (this.fd === undefined) {
      this.dir = mkdtempSync(join(tmpdir(), "tributary-combine-"));
      this.fd = openSync(join(this.dir, "spill"), "w+");
    }
    const start = this.fileEnd;
    let parts: Buffer[] = [];
    let pending = 0;
    const flush = () => {
      const b = Buffer.concat(parts);
      writeSync(this.fd!, b, 0, b.length, this.fileEnd);
      this.fileEnd += b.length;
      parts = [];
      pending = 0;
    };
    for (const e of entries) {
      const body = Buffer.from(stringifyJson([e.key, e.doc]), "utf8");
      const head = Buffer.alloc(12);
      head.writeUInt32LE(e.binding, 0);
      head.writeUInt32LE(e.packed.length, 4);
      head.writeUInt32LE(body.length, 8);
      parts.push(head, Buffer.from(e.packed), body);
      pending += 12 + e.packed.length + body.length;
      if (pending >= READ_CHUNK * 4) flush();
    }
    flush();
    this.runs.push({ start, end: this.fileEnd });
    this.spilledEntries += entries.length;
    this.memBytes = 0;
  }

  /**
   * The combined documents in binding, then packed-key order, each key
   * once. Ends the combiner: the spill file is removed when the drain
   * finishes (or close() is called).
   */
  *drain(): Generator<Combined> {
    try {
      if (this.runs.length === 0) {
        yield* this.mem.drain();
        return;
      }
      this.spill();
      const heap = new ReaderHeap();
      for (const [i, run] of this.runs.entries()) {
        const r = new RunReader(this.fd!, run, i);
        if (r.next()) heap.push(r);
      }
      while (heap.size > 0) {
        const first = heap.pop()!;
        const out = first.head!;
        if (first.next()) heap.push(first);
        // Later runs hold newer documents of the same key: reduce them in.
        for (let r = heap.peek(); r && r.head!.binding === out.binding && Buffer.compare(r.head!.packed, out.packed) === 0; r = heap.peek()) {
          heap.pop();
          out.doc = reduce(this.shapes[out.binding], out.doc, r.head!.doc);
          if (r.next()) heap.push(r);
        }
        yield out;
      }
    } finally {
      this.close();
    }
  }

  /** Removes the spill file. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
