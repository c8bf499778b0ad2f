/**
 * The documents a materialization reads: JSON lines `["<collection>", doc]`,
 * with `{"commit": true}` closing a transaction (end of input closes the
 * last one). Lines are kept in memory with their end offsets, so the
 * harness can re-read from any committed position after a crash, even
 * when the input is a pipe.
 */
import type { Readable } from "node:stream";
import { HarnessError } from "./errors.js";

export interface FixtureDoc {
  collection: string;
  doc: unknown;
  /** Line number, from 1. */
  line: number;
}

export interface FixtureTxn {
  docs: FixtureDoc[];
  /** Byte offset just past the transaction's last line. */
  end: number;
  /** Byte offset of its first line. */
  begin: number;
}

interface Line {
  begin: number;
  end: number;
  commit: boolean;
  doc?: FixtureDoc;
}

export class FixtureSource {
  private readonly lines: Line[] = [];
  private ended = false;
  private failure: Error | undefined;
  private waiters: (() => void)[] = [];
  private offset = 0;

  /** `name` identifies the source in runtime checkpoints, e.g. "fixture/data.jsonl". */
  constructor(
    readonly name: string,
    input: Readable,
  ) {
    let partial = Buffer.alloc(0);
    let lineNo = 0;
    input.on("data", (data: Buffer | string) => {
      const chunk = typeof data === "string" ? Buffer.from(data, "utf8") : data;
      const buf = partial.length ? Buffer.concat([partial, chunk]) : chunk;
      let start = 0;
      for (let nl = buf.indexOf(0x0a, start); nl >= 0; nl = buf.indexOf(0x0a, start)) {
        this.addLine(buf.subarray(start, nl), nl + 1 - start, ++lineNo);
        start = nl + 1;
      }
      partial = Buffer.from(buf.subarray(start));
      this.wake();
    });
    input.on("end", () => {
      if (partial.length) this.addLine(partial, partial.length, ++lineNo);
      this.ended = true;
      this.wake();
    });
    input.on("error", (err) => {
      this.failure = new HarnessError(`cannot read ${name}: ${err.message}`);
      this.wake();
    });
  }

  private addLine(bytes: Buffer, length: number, lineNo: number) {
    const begin = this.offset;
    this.offset += length;
    if (this.failure) return;
    const text = bytes.toString("utf8").trim();
    if (!text) return;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      this.failure = new HarnessError(`${this.name}:${lineNo}: not valid JSON`);
      return;
    }
    if (v && typeof v === "object" && !Array.isArray(v) && (v as any).commit === true) {
      this.lines.push({ begin, end: this.offset, commit: true });
    } else if (Array.isArray(v) && v.length === 2 && typeof v[0] === "string") {
      this.lines.push({ begin, end: this.offset, commit: false, doc: { collection: v[0], doc: v[1], line: lineNo } });
    } else {
      this.failure = new HarnessError(`${this.name}:${lineNo}: expected ["<collection>", document] or {"commit": true}`);
    }
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async waitMore(): Promise<void> {
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /**
   * The transaction starting at byte offset `from`, or undefined at the end
   * of input. Waits for more input when the stream is still open.
   */
  async readTxn(from: number): Promise<FixtureTxn | undefined> {
    for (;;) {
      if (this.failure) throw this.failure;
      let i = this.firstAtOrAfter(from);
      const docs: FixtureDoc[] = [];
      let j = i;
      for (; j < this.lines.length; j++) {
        const l = this.lines[j]!;
        if (l.commit) {
          if (docs.length === 0) {
            // An empty transaction: skip the marker.
            i = j + 1;
            continue;
          }
          return { docs, begin: this.lines[i]!.begin, end: l.end };
        }
        docs.push(l.doc!);
      }
      if (this.ended) {
        if (docs.length === 0) return undefined;
        return { docs, begin: this.lines[i]!.begin, end: this.offset };
      }
      await this.waitMore();
    }
  }

  private firstAtOrAfter(offset: number): number {
    let lo = 0, hi = this.lines.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.lines[mid]!.begin < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  get totalBytes(): number {
    return this.offset;
  }
}
