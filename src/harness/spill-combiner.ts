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
 *
 * A materialization also adds the documents its connector Loaded: they are
 * reduced *under* the combined ones (they are older than any document of
 * the transaction) and mark the key as loaded. While nothing has spilled,
 * they go straight into the in-memory entry; after a spill they are kept
 * in a table of their own ("front" runs), which the merge takes first for
 * a key.
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
  /** Loaded documents, older than every document of the transaction. */
  front: boolean;
}

/** Record header: binding, flags (1 = loaded), packed key length, document length. */
const HEAD = 16;

/** Reads one run's records in order through a buffer. */
class RunReader {
  private buf = Buffer.alloc(0);
  private pos: number;
  head: Combined | undefined;

  /** Merge order among runs for one key: front runs first, then older runs first. */
  readonly rank: number;

  constructor(
    private readonly fd: number,
    private readonly run: Run,
    index: number,
  ) {
    this.rank = (run.front ? 0 : 1 << 30) + index;
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
    if (!this.fill(HEAD)) {
      this.head = undefined;
      return false;
    }
    const binding = this.buf.readUInt32LE(0);
    const loaded = (this.buf.readUInt32LE(4) & 1) === 1;
    const keyLen = this.buf.readUInt32LE(8);
    const docLen = this.buf.readUInt32LE(12);
    const total = HEAD + keyLen + docLen;
    if (!this.fill(total)) throw new Error("spill file: truncated record");
    const packed = new Uint8Array(this.buf.subarray(HEAD, HEAD + keyLen));
    const [key, doc] = parseJson(this.buf.toString("utf8", HEAD + keyLen, total)) as [unknown[], unknown];
    this.buf = this.buf.subarray(total);
    this.head = loaded ? { binding, key, packed, doc, loaded } : { binding, key, packed, doc };
    return true;
  }
}

function before(a: RunReader, b: RunReader): boolean {
  const x = a.head!;
  const y = b.head!;
  return (x.binding - y.binding || Buffer.compare(x.packed, y.packed) || a.rank - b.rank) < 0;
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
  /** Loaded documents of keys whose entries may have spilled (only used after a spill). */
  private front: Combiner;
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
    this.front = new Combiner(shapes);
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

  /**
   * Reduces a document loaded from the destination under the key's
   * combined documents, and marks the key loaded. Each key at most once,
   * and only keys added before.
   */
  addLoaded(binding: number, key: unknown[], doc: unknown, packed: Uint8Array, sizeHint?: number): void {
    if (this.runs.length === 0) this.mem.addLoaded(binding, packed, doc);
    else this.front.add(binding, key, doc, packed);
    this.memBytes += 2 * (sizeHint ?? stringifyJson(doc).length) + (this.runs.length === 0 ? 0 : ENTRY_OVERHEAD + packed.length);
    if (this.memBytes > this.budgetBytes) this.spill();
  }

  /** Writes the in-memory entries (and loaded documents) as sorted runs and starts over. */
  private spill(): void {
    this.spillRun(this.mem.drain(), false);
    this.spillRun(this.front.drain(), true);
    this.memBytes = 0;
  }

  private spillRun(entries: Combined[], front: boolean): void {
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
      const head = Buffer.alloc(HEAD);
      head.writeUInt32LE(e.binding, 0);
      head.writeUInt32LE(e.loaded || front ? 1 : 0, 4);
      head.writeUInt32LE(e.packed.length, 8);
      head.writeUInt32LE(body.length, 12);
      parts.push(head, Buffer.from(e.packed), body);
      pending += HEAD + e.packed.length + body.length;
      if (pending >= READ_CHUNK * 4) flush();
    }
    flush();
    this.runs.push({ start, end: this.fileEnd, front });
    this.spilledEntries += entries.length;
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
        // Later runs hold newer documents of the same key (a loaded one
        // comes first of all): reduce them in.
        for (let r = heap.peek(); r && r.head!.binding === out.binding && Buffer.compare(r.head!.packed, out.packed) === 0; r = heap.peek()) {
          heap.pop();
          out.doc = reduce(this.shapes[out.binding], out.doc, r.head!.doc);
          if (r.head!.loaded) out.loaded = true;
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
