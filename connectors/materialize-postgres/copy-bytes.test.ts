import { describe, expect, it } from "vitest";
import type { Column } from "../../src/sql/table.js";
import type { ValueEncoding } from "../../src/sql/dialect.js";
import { rng } from "../../test/support/rng.js";
import { CopyBuffer } from "./copy-bytes.js";
import { RowEncoder } from "./copy-text.js";

const col = (encoding: ValueEncoding) => ({ mapped: { encoding } }) as unknown as Column;
const utf8 = new TextEncoder();

/** The byte path's line, gathered from however many buffers it spans. */
function bytesLine(enc: RowEncoder, out: CopyBuffer, key: string, values: string, doc: Uint8Array | string | undefined, flag?: string): string {
  enc.storeInto(out, enc.keyValueFields(key, values), doc, flag?.charCodeAt(0));
  return Buffer.concat(out.takeAll()).toString("utf8");
}

const EDGE_DOCS = [
  "",
  "{}",
  '{"a":"tab\\there","b":"\\\\","c":"line\\nbreak"}',
  '{"raw":"\t\n\r\\"}',
  '{"u":"é😀 ü ß 中文","e":"\\u0000\\u001f"}',
  '{"n":-1.5e308,"m":18446744073709551616,"z":null,"t":true}',
  "\uFEFF{\"bom\":1}",
  '{"big":"' + "x\\\\y\t".repeat(40_000) + '"}',
  '{"big":"' + "é😀".repeat(50_000) + '"}',
];

describe("COPY text as bytes", () => {
  const enc = new RowEncoder([col("verbatim")], [col("text"), col("verbatim"), col("string")]);

  it("writes the same line from the document's bytes as storeLine does from its text", () => {
    for (const doc of EDGE_DOCS) {
      for (const flag of [undefined, "t", "f"]) {
        const want = enc.storeLine("[1]", '["tab\\there",null,"d"]', doc, flag);
        expect(bytesLine(enc, new CopyBuffer(), "[1]", '["tab\\there",null,"d"]', utf8.encode(doc), flag)).toBe(want);
        expect(bytesLine(enc, new CopyBuffer(), "[1]", '["tab\\there",null,"d"]', doc, flag)).toBe(want);
      }
    }
    const noDoc = new RowEncoder([col("verbatim")], []);
    expect(bytesLine(noDoc, new CopyBuffer(), "[7]", "[]", undefined, "f")).toBe(noDoc.storeLine("[7]", "[]", undefined, "f"));
  });

  it("finds a bad key or values array before anything is written", () => {
    expect(() => enc.keyValueFields("[1]", '["x"]')).toThrow(/has 1 elements, expected 3/);
    expect(() => enc.keyValueFields("{", '["x",1,"y"]')).toThrow();
  });

  it("matches storeLine on seeded random rows across buffer boundaries", () => {
    const next = rng(17);
    const alphabet = ["a", "Z", "0", " ", "\\\\", '\\"', "\t", "\n", "\r", "\\n", "é", "😀", "中", "{", "}", ",", "\u0001", "\u007f"];
    const text = (max: number) => Array.from({ length: next(max) }, () => alphabet[next(alphabet.length)]).join("");
    // Small buffers: lines straddle them, and some documents outgrow them.
    const out = new CopyBuffer(97);
    const taken: Buffer[] = [];
    let want = "";
    for (let i = 0; i < 2000; i++) {
      const doc = `{"s":"${text(next(10) === 0 ? 400 : 40)}"}`;
      const values = `[${JSON.stringify(text(8))},${next(1000) - 500},${JSON.stringify(text(5))}]`;
      const flag = ["t", "f", undefined][next(3)];
      want += enc.storeLine(`[${i}]`, values, doc, flag);
      enc.storeInto(out, enc.keyValueFields(`[${i}]`, values), next(2) ? utf8.encode(doc) : doc, flag?.charCodeAt(0));
      if (next(5) === 0) taken.push(...out.takeFull());
    }
    taken.push(...out.takeAll());
    expect(taken.length).toBeGreaterThan(100);
    expect(Buffer.concat(taken).toString("utf8")).toBe(want);
  });

  it("hands over every byte once, in order, whatever the buffer size", () => {
    const next = rng(5);
    for (const size of [1, 3, 64, 4096]) {
      const out = new CopyBuffer(size);
      const taken: Buffer[] = [];
      let want = "";
      for (let i = 0; i < 300; i++) {
        const doc = `{"k":"${"é\\\\\t".repeat(next(30))}"}`;
        want += enc.storeLine(`[${i}]`, '["a",1,"b"]', doc, "f");
        enc.storeInto(out, enc.keyValueFields(`[${i}]`, '["a",1,"b"]'), utf8.encode(doc), 0x66);
        if (next(3) === 0) taken.push(...out.takeFull());
        if (next(7) === 0) taken.push(...out.takeAll());
      }
      taken.push(...out.takeAll());
      expect(out.size).toBe(0);
      expect(Buffer.concat(taken).toString("utf8")).toBe(want);
    }
  });
});
