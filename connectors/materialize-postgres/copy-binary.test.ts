import { describe, expect, it } from "vitest";
import { BinaryCopyReader } from "./copy-binary.js";

/** Binary COPY output of `rows` (null for a NULL field), as PostgreSQL writes it. */
function output(rows: (string | null)[][], ext = Buffer.alloc(0)): Buffer {
  const parts: Buffer[] = [Buffer.from("PGCOPY\n\xff\r\n\0", "latin1"), Buffer.from([0, 0, 0, 0]), Buffer.alloc(4), ext];
  parts[2]!.writeUInt32BE(ext.length);
  for (const row of rows) {
    const n = Buffer.alloc(2);
    n.writeInt16BE(row.length);
    parts.push(n);
    for (const f of row) {
      const len = Buffer.alloc(4);
      const bytes = f === null ? Buffer.alloc(0) : Buffer.from(f, "utf8");
      len.writeInt32BE(f === null ? -1 : bytes.length);
      parts.push(len, bytes);
    }
  }
  parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}

function read(chunks: Buffer[]): (string | null)[][] {
  const r = new BinaryCopyReader();
  const rows: (string | null)[][] = [];
  for (const c of chunks) r.push(c, (fields) => rows.push(fields.map((f) => (f === null ? null : f.toString("utf8")))));
  r.finish();
  return rows;
}

describe("BinaryCopyReader", () => {
  const rows = [["a", '{"x":"é🐟\\n\\t"}'], [null, ""], ["b".repeat(70_000), "c"]];

  it("reads rows whole however the output is split", () => {
    const all = output(rows, Buffer.from("ext"));
    expect(read([all])).toEqual(rows);
    for (const size of [1, 2, 3, 7, 19, 4096]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < all.length; i += size) chunks.push(all.subarray(i, i + size));
      expect(read(chunks)).toEqual(rows);
    }
    // Every two-way split.
    const small = output([["k", "v"], ["k2", null]]);
    for (let i = 0; i <= small.length; i++) expect(read([small.subarray(0, i), small.subarray(i)])).toEqual([["k", "v"], ["k2", null]]);
  });

  it("refuses output that is cut short, misses its signature, or goes on after its trailer", () => {
    const all = output(rows);
    expect(() => read([all.subarray(0, all.length - 1)])).toThrow(/ended in the middle of a row/);
    expect(() => read([Buffer.from("PGCOPY\nxxxxxxxxxxxxxxxxxx")])).toThrow(/signature/);
    expect(() => read([all, Buffer.from([0])])).toThrow(/after its trailer/);
  });
});
