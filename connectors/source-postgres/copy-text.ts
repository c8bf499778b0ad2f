/**
 * Parser for COPY ... TO STDOUT in text format: rows end with "\n", columns
 * are separated by "\t", "\N" is null and backslash escapes the rest.
 * Values come out as the type output function's text, the same form
 * pgoutput sends, which is what makes backfill and stream documents agree.
 */
import type { Readable } from "node:stream";

const ESCAPES: Record<string, string> = { b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\" };

function unescape(s: string): string {
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
    out.push(field === "\\N" ? null : field.indexOf("\\") < 0 ? field : unescape(field));
    if (tab < 0) return out;
    start = tab + 1;
  }
}

/**
 * Calls `onRow` for each row of a COPY text stream, awaiting it when it
 * returns a promise (so a slow consumer slows the read). Returns the row count.
 */
export async function readCopyRows(stream: Readable, onRow: (values: (string | null)[]) => void | Promise<void>): Promise<number> {
  let rest: Buffer | null = null;
  let rows = 0;
  const values: (string | null)[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const buf: Buffer = rest ? Buffer.concat([rest, chunk]) : chunk;
    const last = buf.lastIndexOf(10);
    if (last < 0) {
      rest = buf;
      continue;
    }
    // A newline byte never occurs inside a multi-byte UTF-8 sequence, so this split is safe.
    const text = buf.toString("utf8", 0, last);
    rest = last + 1 < buf.length ? buf.subarray(last + 1) : null;
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
  }
  if (rest && rest.length > 0) throw new Error("COPY output ended in the middle of a row");
  return rows;
}
