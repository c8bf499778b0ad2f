/**
 * Parser for COPY ... TO STDOUT in text format: rows end with "\n", columns
 * are separated by "\t", "\N" is null and backslash escapes the rest.
 * Values come out as the type output function's text, the same form
 * pgoutput sends, which is what makes backfill and stream documents agree.
 */
import type { Readable } from "node:stream";

const ESCAPES: Record<string, string> = { b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\" };

/** A COPY text field's value from its escaped form (any backslash escape). */
export function unescapeCopy(s: string): string {
  return s.replace(/\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|.)/g, (_, e: string) => {
    if (e[0] === "x") return String.fromCharCode(parseInt(e.slice(1), 16));
    if (e >= "0" && e <= "7") return String.fromCharCode(parseInt(e, 8));
    return ESCAPES[e] ?? e;
  });
}

/** Splits one COPY text line into values (reusing `out`). */
export function parseCopyLine(line: string, out: (string | null)[]): (string | null)[] {
  out.length = 0;
  let start = 0;
  for (;;) {
    const tab = line.indexOf("\t", start);
    const field = tab < 0 ? line.slice(start) : line.slice(start, tab);
    out.push(field === "\\N" ? null : field.indexOf("\\") < 0 ? field : unescapeCopy(field));
    if (tab < 0) return out;
    start = tab + 1;
  }
}

/** Bytes a reader has scanned or copied: linear in its input when it works as intended. */
export interface ReadWork {
  bytes: number;
}

/**
 * Calls `onBlock` with each run of complete rows of a COPY text stream:
 * bytes [0, end) of `buf`, each row ending in "\n" (the last one's newline
 * is at `end`). Awaits it when it returns a promise (so a slow consumer
 * slows the read). The buffers are the stream's chunks or joins of them,
 * never written again.
 *
 * A row longer than a chunk is gathered as a list of chunks and joined once
 * its end arrives; each chunk is scanned for a newline once. So the work is
 * linear in the row's size however many chunks it spans (`work` counts it).
 */
export async function readCopyBlocks(
  stream: Readable,
  onBlock: (buf: Buffer, end: number) => void | Promise<void>,
  work: ReadWork = { bytes: 0 },
): Promise<void> {
  // Bytes after the last complete row, as the chunks they arrived in.
  let parts: Buffer[] = [];
  let partsLen = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    work.bytes += chunk.length;
    const lastInChunk = chunk.lastIndexOf(10);
    if (lastInChunk < 0) {
      parts.push(chunk);
      partsLen += chunk.length;
      continue;
    }
    let buf = chunk;
    let last = lastInChunk;
    if (partsLen > 0) {
      parts.push(chunk);
      buf = Buffer.concat(parts, partsLen + chunk.length);
      work.bytes += buf.length;
      last += partsLen;
    }
    parts = last + 1 < buf.length ? [buf.subarray(last + 1)] : [];
    partsLen = buf.length - last - 1;
    const p = onBlock(buf, last);
    if (p) await p;
  }
  if (partsLen > 0) throw new Error("COPY output ended in the middle of a row");
}

/**
 * Calls `onRow` for each row of a COPY text stream as its values, awaiting
 * it when it returns a promise. Returns the row count.
 */
export async function readCopyRows(
  stream: Readable,
  onRow: (values: (string | null)[]) => void | Promise<void>,
  work: ReadWork = { bytes: 0 },
): Promise<number> {
  let rows = 0;
  const values: (string | null)[] = [];
  await readCopyBlocks(
    stream,
    async (buf, last) => {
      // A newline byte never occurs inside a multi-byte UTF-8 sequence, so this split is safe.
      const text = buf.toString("utf8", 0, last);
      let start = 0;
      for (;;) {
        const nl = text.indexOf("\n", start);
        const line = nl < 0 ? text.slice(start) : text.slice(start, nl);
        rows++;
        const p = onRow(parseCopyLine(line, values));
        if (p) await p;
        if (nl < 0) break;
        start = nl + 1;
      }
    },
    work,
  );
  return rows;
}
