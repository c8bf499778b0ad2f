/**
 * The backfill's byte path (DocumentWriter) against the string path
 * (parseCopyLine, then RowEncoder.properties and document): the same bytes
 * for every type the byte path writes itself, for those it hands to the
 * converters, for edge values, and for seeded random rows. No server.
 */
import { describe, expect, it } from "vitest";
import { rng } from "../../test/support/rng.js";
import { parseCopyLine } from "./copy-text.js";
import { DocumentWriter } from "./document-bytes.js";
import { RowEncoder } from "./documents.js";
import { OID } from "./text-values.js";
import type { PgType, TypeLookup } from "./type-catalog.js";

const types = new Map<number, PgType>([
  [1007, { oid: 1007, name: "_int4", namespace: "pg_catalog", typtype: "b", category: "A", elem: OID.int4, base: 0, delim: "," }],
  [50001, { oid: 50001, name: "price", namespace: "public", typtype: "d", category: "N", elem: 0, base: OID.float8, delim: "," }],
  [50002, { oid: 50002, name: "mood", namespace: "public", typtype: "e", category: "E", elem: 0, base: 0, delim: "," }],
]);
const lookup: TypeLookup = { get: (o) => types.get(o) };

/** Column types and edge values (as the type's output function prints them). */
const COLUMNS: [string, number, string[]][] = [
  ["i2", OID.int2, ["0", "-32768", "32767"]],
  ["i4", OID.int4, ["1", "-2147483648"]],
  ["i8", OID.int8, ["9223372036854775807", "-9223372036854775808"]],
  ["f4", OID.float4, ["1.5", "-0", "NaN", "Infinity", "-Infinity", "3.4028235e+38"]],
  ["f8", OID.float8, ["1e+308", "5e-324", "-Infinity", "NaN", "0.1"]],
  ["fd", 50001, ["2.5", "NaN"]],
  ["b", OID.bool, ["t", "f"]],
  ["t", OID.text, ["", "plain", 'q"uote', "back\\slash", "tab\there", "nl\nx\r\ny", "\b\f\v\x01\x1f\x7f", "é ✓ 😀", "\\N", "N", "\u2028\u2029", "\ufeff"]],
  ["vc", OID.varchar, ["x".repeat(300), "a\\tb"]],
  ["bp", OID.bpchar, ["abc  "]],
  ["nm", OID.name, ["pg_class"]],
  ["n", OID.numeric, ["0.000000000000000000001", "-12345678901234567890.5", "NaN", "Infinity"]],
  ["u", OID.uuid, ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]],
  ["j", OID.json, ['{"a": [1, 2.5, "x\\ny"]}', '{\n  "k": "v"\t}', '"\\ud83d"', '"\\ud83d\\ude00"', '"\\\\ud83d"', '{"é": "\\u00e9 ✓"}', "null", '"\\\\\\\\"']],
  ["jb", OID.jsonb, ['{"a": 1, "b": {"c": [true, false, null]}}', '"a\\"b\\\\c\\/d"', "[]"]],
  ["d", OID.date, ["2024-02-29", "infinity", "-infinity", "0044-03-15 BC", "10000-01-01"]],
  ["tm", OID.time, ["03:04:05", "23:59:59.999999"]],
  ["tz", OID.timetz, ["03:04:05+05:30", "03:04:05-07:52:58"]],
  ["ts", OID.timestamp, ["2024-01-02 03:04:05", "2024-01-02 03:04:05.123456", "0044-03-15 12:00:00 BC", "infinity", "-infinity", "10000-01-01 00:00:00"]],
  ["tstz", OID.timestamptz, ["2024-01-02 03:04:05+00", "2024-01-02 03:04:05.5+00", "2024-01-01 00:30:00+05:30", "infinity", "-infinity", "0044-03-15 12:00:00+00 BC"]],
  ["by", OID.bytea, ["\\x", "\\x00ff10"]],
  ["ai", 1007, ["{1,2,NULL}", "{{1,2},{3,4}}", "{}"]],
  ["en", 50002, ["happy", 'so "so"']],
  ["oth", 99999, ["(1,2)", "[1,5)"]],
];

/** A value as COPY text writes it. */
function copyEscape(v: string | null): string {
  if (v === null) return "\\N";
  return v.replace(/[\\\b\f\n\r\t\v]/g, (c) => ({ "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v" })[c]!);
}

const SOURCE = ',"snapshot":true,"ts_ms":1700000000000';

function encoder(cols: [string, number][], key: string[]): RowEncoder {
  return new RowEncoder("public", "tbl é", cols.map(([name, typeOid]) => ({ name, typeOid })), key, lookup);
}

/** Both paths over the same COPY lines (as bytes, so invalid UTF-8 can be given too). */
function compare(enc: RowEncoder, lines: Buffer[], leaf?: string): void {
  const writer = new DocumentWriter(enc, SOURCE, leaf);
  const all = Buffer.concat(lines.flatMap((l) => [l, Buffer.from("\n")]));
  let s = 0;
  for (const line of lines) {
    const got = writer.row(all, s, s + line.length).bytes;
    const vals = parseCopyLine(all.toString("utf8", s, s + line.length), []);
    const want =
      leaf === undefined
        ? enc.document(enc.properties(vals), "c", SOURCE)
        : enc.document(enc.properties(vals.slice(1)), "c", `${SOURCE},"loc":${JSON.stringify(leaf + vals[0])}`);
    expect(Buffer.from(got).toString("utf8")).toBe(want);
    expect(Buffer.compare(Buffer.from(got), Buffer.from(want, "utf8"))).toBe(0);
    s += line.length + 1;
  }
}

const line = (vals: (string | null)[]) => Buffer.from(vals.map(copyEscape).join("\t"), "utf8");

describe("DocumentWriter (COPY bytes to document bytes)", () => {
  it("writes every column type's edge values and NULLs as the string path does", () => {
    for (const [name, oid, values] of COLUMNS) {
      const enc = encoder([["id", OID.int8], [name, oid]], ["id"]);
      compare(enc, [...values, null].map((v, i) => line([String(i), v])));
    }
  });

  it("writes float keys as strings, and rows of all columns at once", () => {
    const enc = encoder(COLUMNS.map(([n, o]) => [n, o]), ["f8", "i4"]);
    const rows = [0, 1, 2, 3].map((r) => line(COLUMNS.map(([, , vs]) => vs[r % vs.length]!)));
    compare(enc, rows);
  });

  it("takes the general path for escapes COPY does not write and for invalid UTF-8", () => {
    const enc = encoder([["t", OID.text], ["j", OID.json], ["i", OID.int4], ["d", OID.date]], []);
    compare(enc, [
      Buffer.from("a\\x41\\101\\q\\\tx\\\\u\\z\t1\t2024-01-01", "utf8"),
      Buffer.from('b\\\\ud800\t"\\\\ud800\\\\udc00"\t\\x31\t2024-01-01', "utf8"),
      Buffer.concat([Buffer.from("ok\xff"), Buffer.from([0xc3, 0x28, 0x09]), Buffer.from('"\xe9"', "latin1"), Buffer.from("\t1\t2024-01-01")]),
      Buffer.concat([Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('\t"\xf0\x9f\x98\x80"\t\\N\t\\N', "latin1")]),
    ]);
  });

  it("writes keyless rows with their location, and tables without columns", () => {
    const enc = encoder([["t", OID.text], ["n", OID.int4]], []);
    compare(enc, [line(["(0,1)", "x", "1"]), line(["(12,34)", null, null])], "");
    compare(enc, [line(["(0,1)", "é\"", "2"])], 'public."part ✓"');
    compare(encoder([], []), [Buffer.alloc(0), Buffer.alloc(0)]);
    compare(encoder([], []), [Buffer.from("(0,1)")], "p");
  });

  it("moves a document to a new chunk when it outgrows the current one, leaving earlier documents intact", () => {
    const enc = encoder([["id", OID.int4], ["t", OID.text], ["a", 1007]], ["id"]);
    const writer = new DocumentWriter(enc, SOURCE);
    const big = "\x01".repeat(70_000); // 6 bytes each as JSON: beyond a 256 KiB chunk
    const arr = "{" + Array.from({ length: 60_000 }, (_, i) => String(i)).join(",") + "}";
    const lines = [line(["1", "small", "{1}"]), line(["2", big, "{2}"]), line(["3", "x", arr]), line(["4", "y", "{}"])];
    const all = Buffer.concat(lines.flatMap((l) => [l, Buffer.from("\n")]));
    const docs: Uint8Array[] = [];
    let s = 0;
    for (const l of lines) {
      docs.push(writer.row(all, s, s + l.length).bytes);
      s += l.length + 1;
    }
    s = 0;
    lines.forEach((l, i) => {
      const want = enc.document(enc.properties(parseCopyLine(all.toString("utf8", s, s + l.length), [])), "c", SOURCE);
      expect(Buffer.from(docs[i]!).toString("utf8")).toBe(want);
      s += l.length + 1;
    });
  });

  it("agrees with the string path on seeded random rows", () => {
    for (const seed of [1, 7, 42, 2026]) {
      const r = rng(seed);
      const pick = <T>(xs: T[]) => xs[r(xs.length)]!;
      const CHARS = ["a", "Z", "0", " ", '"', "\\", "\t", "\n", "\r", "\b", "\f", "\v", "\x00", "\x1f", "\x7f", "é", "✓", "😀", "\u2028", "/", "{", "N"];
      const str = () => Array.from({ length: r(12) }, () => pick(CHARS)).join("");
      const jsonValue = (depth: number): unknown =>
        depth > 2 || r(3) === 0 ? pick([str(), r(1000) - 500, r(2) === 0, null, 1.5e300]) : r(2) === 0 ? [jsonValue(depth + 1), jsonValue(depth + 1)] : { [str()]: jsonValue(depth + 1) };
      const p2 = (n: number) => String(n).padStart(2, "0");
      const gen: [number, () => string][] = [
        [OID.int8, () => String(r(2_000_000_000) - 1_000_000_000) + String(r(1_000_000))],
        [OID.int4, () => String(r(2_000_000) - 1_000_000)],
        [OID.float8, () => pick([String(r(100000) / 7), "NaN", "-Infinity", "1e+300", "-0"])],
        [OID.bool, () => pick(["t", "f"])],
        [OID.text, str],
        [OID.varchar, str],
        [OID.numeric, () => `${r(100000)}.${r(1000)}`],
        [OID.json, () => JSON.stringify(jsonValue(0), null, r(2) === 0 ? 2 : undefined)],
        [OID.jsonb, () => JSON.stringify(jsonValue(0))],
        [OID.timestamptz, () => `20${p2(r(100))}-${p2(1 + r(12))}-${p2(1 + r(28))} ${p2(r(24))}:${p2(r(60))}:${p2(r(60))}${pick(["", ".5", ".123456"])}${pick(["+00", "+00", "+05:30", "-08"])}`],
        [OID.timestamp, () => `19${p2(r(100))}-${p2(1 + r(12))}-${p2(1 + r(28))} ${p2(r(24))}:${p2(r(60))}:${p2(r(60))}${pick(["", ".25"])}`],
        [OID.date, () => `20${p2(r(100))}-${p2(1 + r(12))}-${p2(1 + r(28))}`],
        [OID.uuid, () => "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"],
        [50002, str],
      ];
      const cols = Array.from({ length: 1 + r(10) }, (_, i) => [`c${i} ${str()}`, pick(gen)] as const);
      const enc = encoder(cols.map(([n, [oid]]) => [n, oid]), []);
      const rows = Array.from({ length: 200 }, () => line(cols.map(([, [, g]]) => (r(8) === 0 ? null : g()))));
      compare(enc, rows);
      compare(enc, rows.map((l) => Buffer.concat([Buffer.from(`(${r(1000)},${r(100)})\t`), l])), "leaf");
    }
  });
});
