/**
 * The backfill's byte path (rows written as JSON from the text protocol's
 * packets, text-rows.ts) against the general one (mysql2's values through
 * the RowEncoder): the same backfill query over a throwaway MariaDB, and
 * every row's properties must be the same bytes. Edge values and seeded
 * random rows of every type with a fast form.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMariaDb, type MariaDbServer } from "../../test/support/mariadb-server.js";
import { rng } from "../../test/support/rng.js";
import { keylessSql } from "./backfill.js";
import { connect } from "./connection.js";
import { listTables } from "./discovery.js";
import { DocBytes } from "./doc-bytes.js";
import { RowEncoder } from "./encoder.js";
import { plainDouble, rawRows, TextRowWriter, type RawRow } from "./text-rows.js";
import { PLAIN_DOUBLE } from "./values.js";
import { parseZone } from "./timezone.js";

let db: MariaDbServer;
beforeAll(async () => {
  db = await startMariaDb();
}, 120_000);
afterAll(async () => {
  await db?.stop();
});

const COLUMNS = `id BIGINT PRIMARY KEY, ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT, i INT, iu INT UNSIGNED,
  bi BIGINT, bu BIGINT UNSIGNED, db DOUBLE, vc VARCHAR(300), c CHAR(10), tx TEXT, j JSON, vb VARBINARY(300), bl BLOB,
  de DECIMAL(65,30), d2 DECIMAL(10,2), dt DATE, dtm DATETIME(6), dt0 DATETIME, ts TIMESTAMP(3) NULL DEFAULT NULL, tm TIME(6),
  e ENUM('a','b,c','é'), s SET('x','y','ü'), z INT ZEROFILL`;
const NAMES = "id ti tu si mi i iu bi bu db vc c tx j vb bl de d2 dt dtm dt0 ts tm e s z".split(" ");

const TEXTS = ["", "plain", 'quote " and \\ backslash', "tab\tnew\nline\u0001", "héllo ✓", "😀 emoji", "\u007f del", "a".repeat(250)];
const JSONS = ["{}", "[]", '{"a":[1,2.5,"x"],"b":null}', '"str\\u00e9"', '{"é":"✓ 😀"}', "12345678901234567890", "true"];

function literal(s: string): string {
  return "'" + s.replace(/\\/g, "\\\\").replace(/'/g, "''") + "'";
}

function randomRow(r: (n: number) => number, id: number): string {
  const pick = <T,>(xs: T[]) => xs[r(xs.length)]!;
  const maybe = (v: () => string) => (r(6) === 0 ? "NULL" : v());
  const int = (lo: bigint, hi: bigint) => () => (r(4) === 0 ? pick([lo, hi, 0n]) : lo + ((BigInt(r(1 << 30)) * BigInt(r(1 << 30)) * 7919n) % (hi - lo))).toString();
  const double = () =>
    r(3) === 0
      ? pick(["0", "-0", "1.7976931348623157e308", "-2.2250738585072014e-308", "5e-324", "0.1", "123456.78", "1e21", "1e-7", "0.000001", "100", "-3.5"])
      : String((r(2) ? -1 : 1) * (r(1 << 30) / (1 + r(1 << 20))) * 10 ** (r(40) - 20));
  const text = () => literal(r(3) === 0 ? pick(TEXTS) : Array.from({ length: r(30) }, () => pick(["a", "Z", "9", " ", "é", "✓", "😀", '"', "\\", "\n"])).join(""));
  const bytes = () => "X'" + Array.from({ length: r(40) }, () => r(256).toString(16).padStart(2, "0")).join("") + "'";
  const two = (n: number) => String(n).padStart(2, "0");
  const date = () => pick(["'0000-00-00'", "'2020-00-15'", `'${1000 + r(9000)}-${two(1 + r(12))}-${two(1 + r(28))}'`]);
  const time = () => `'${two(r(24))}:${two(r(60))}:${two(r(60))}.${String(r(1_000_000)).padStart(6, "0")}'`;
  // Runs in one minute (one a DST gap in America/Los_Angeles) take the writer's per-minute path.
  const sameMinute = () => `'${pick(["2024-03-10 02:30", "2024-06-01 12:00", "0000-00-00 00:00"])}:${two(r(60))}${pick(["", ".5", ".123456"])}'`;
  const dtm = () => (r(5) === 0 ? "'0000-00-00 00:00:00'" : r(2) ? sameMinute() : `${date().slice(0, -1)} ${time().slice(1)}`);
  return `(${id}, ${[
    maybe(int(-128n, 127n)), maybe(int(0n, 255n)), maybe(int(-32768n, 32767n)), maybe(int(-8388608n, 8388607n)), maybe(int(-2147483648n, 2147483647n)),
    maybe(int(0n, 4294967295n)), maybe(int(-9223372036854775808n, 9223372036854775807n)), maybe(int(0n, 18446744073709551615n)), maybe(double),
    maybe(text), maybe(() => literal(pick(TEXTS).slice(0, 10))), maybe(text), maybe(() => literal(pick(JSONS))), maybe(bytes), maybe(bytes),
    maybe(() => pick(["'12345678901234567890123456789012345.123456789012345678901234567890'", "'-0.000000000000000000000000000001'", "0", "'1.5'"])),
    maybe(() => pick(["'-123.45'", "0", "'99999999.99'"])), maybe(date), maybe(dtm), maybe(dtm),
    maybe(() => pick(["'1970-01-01 00:00:01.000'", "'2038-01-19 03:14:07.999'", "'2024-03-10 10:30:00.5'"])), maybe(time),
    maybe(() => pick(["'a'", "'b,c'", "'é'", "''"])), maybe(() => pick(["''", "'x'", "'x,ü'", "'y,ü,x'"])),
    // ZEROFILL's leading zeros are no number's text: such a row takes the general path (rarely, to keep most fast).
    r(20) === 0 ? int(0n, 99999n)() : "NULL",
  ].join(", ")})`;
}

describe("backfill rows as JSON bytes", () => {
  it("writes every row as the converters write mysql2's values, byte for byte", async () => {
    await db.createDatabase("textrows");
    await db.query(`USE textrows; CREATE TABLE t (${COLUMNS})`);
    const r = rng(4242);
    for (let batch = 0; batch < 5; batch++) {
      const rows = Array.from({ length: 200 }, (_, k) => randomRow(r, batch * 200 + k));
      await db.query(`SET SESSION sql_mode = ''; USE textrows; INSERT INTO t (${NAMES.join(", ")}) VALUES ${rows.join(", ")}`);
    }
    const conn = await connect({ address: `${db.host}:${db.port}`, user: db.user, sslmode: "disabled" } as any);
    try {
      const [table] = await listTables(conn, ["textrows"], [{ schema: "textrows", table: "t" }]);
      const enc = new RowEncoder("textrows", "t", table!.columns, table!.key, { zone: parseZone("America/Los_Angeles")! });
      const out = new DocBytes();
      let writer: TextRowWriter | null = null;
      let fast = 0;
      let general = 0;
      const mismatches: string[] = [];
      await new Promise<void>((resolve, reject) => {
        const q = (conn as any).connection.query({ sql: keylessSql(table!), rowsAsArray: true });
        rawRows(q);
        q.on("result", (row: RawRow) => {
          writer ??= new TextRowWriter(enc, row.fields);
          out.begin();
          const ok = writer.writeProps(out, row.packet);
          const doc = out.end();
          const bytes = Buffer.from(doc).toString("utf8");
          const expected = enc.fromArray(row.values());
          if (ok) {
            fast++;
            if (bytes !== expected) mismatches.push(`${bytes}\n!==\n${expected}`);
          } else general++;
        })
          .on("error", reject)
          .on("end", () => resolve());
      });
      expect(writer!.general).toBe(false);
      expect(mismatches.slice(0, 3)).toEqual([]);
      // Rows with a ZEROFILL integer take the general path; the rest the fast one.
      expect(fast).toBeGreaterThan(900);
      expect(general).toBeGreaterThan(0);
      expect(fast + general).toBe(1000);
    } finally {
      await conn.end();
    }
  }, 120_000);
});

/** Where column `col`'s value lies in a text row packet (null for NULL): its length-encoded values walked. */
function valueAt(buf: Buffer, off: number, col: number): [number, number] | null {
  for (let i = 0; ; i++) {
    const first = buf[off]!;
    let len = 0;
    if (first === 0xfb) {
      if (i === col) return null;
      off += 1;
      continue;
    }
    if (first < 0xfb) (len = first), (off += 1);
    else if (first === 0xfc) (len = buf.readUInt16LE(off + 1)), (off += 3);
    else if (first === 0xfd) (len = buf.readUIntLE(off + 1, 3)), (off += 4);
    else throw new Error("no 8-byte lengths in this test");
    if (i === col) return [off, off + len];
    off += len;
  }
}

describe("JSON values checked as UTF-8", () => {
  it("sends rows whose JSON bytes are not UTF-8 to the general path, which decodes them as mysql2 does", async () => {
    await db.createDatabase("textrowsutf8");
    // The JSON column in the middle and last: a bad byte at a value's start, middle and end.
    await db.query(`USE textrowsutf8; CREATE TABLE t (id INT PRIMARY KEY, j JSON, s VARCHAR(20), k JSON)`);
    // j is ASCII in every fourth row (copied and checked 8 bytes at a time, then byte by byte: lengths vary).
    const j = (i: number) => (i % 4 === 0 ? `{"a":"${"x".repeat(i % 40)}"}` : `{"a":"é${"x".repeat(i % 40)}✓"}`);
    const rows = Array.from({ length: 300 }, (_, i) => `(${i}, '${j(i)}', 'v${i}', '[${i},"😀"]')`);
    await db.query(`USE textrowsutf8; INSERT INTO t VALUES ${rows.join(", ")}`);
    const conn = await connect({ address: `${db.host}:${db.port}`, user: db.user, sslmode: "disabled" } as any);
    try {
      const [table] = await listTables(conn, ["textrowsutf8"], [{ schema: "textrowsutf8", table: "t" }]);
      const enc = new RowEncoder("textrowsutf8", "t", table!.columns, table!.key, { zone: parseZone("UTC")! });
      const out = new DocBytes();
      let writer: TextRowWriter | null = null;
      const counts = { fast: 0, refused: 0, wrong: 0 };
      await new Promise<void>((resolve, reject) => {
        const q = (conn as any).connection.query({ sql: keylessSql(table!) + " ORDER BY id", rowsAsArray: true });
        rawRows(q);
        q.on("result", (row: RawRow) => {
          writer ??= new TextRowWriter(enc, row.fields);
          const id = counts.fast + counts.refused;
          // Every third row: one byte of one JSON value made 0xff (never UTF-8), in both paths' bytes.
          const bad = id % 3 === 0;
          if (bad) {
            const [from, to] = valueAt(row.packet.buffer, row.packet.offset, id % 2 === 0 ? 1 : 3)!;
            row.packet.buffer[[from, (from + to) >> 1, to - 1][id % 9 === 0 ? 0 : id % 9 === 3 ? 1 : 2]!] = 0xff;
          }
          out.begin();
          const ok = writer.writeProps(out, row.packet);
          if (ok) {
            counts.fast++;
            out.end();
          }
          else {
            out.discard();
            counts.refused++;
          }
          if (ok === bad) counts.wrong++;
          // The general path's text of a bad row holds U+FFFD where the byte was.
          if (bad && !enc.fromArray(row.values()).includes("\ufffd")) counts.wrong++;
        })
          .on("error", reject)
          .on("end", () => resolve());
      });
      expect(counts).toEqual({ fast: 200, refused: 100, wrong: 0 });
    } finally {
      await conn.end();
    }
  }, 120_000);
});

describe("DATETIME runs of minutes", () => {
  // Rows in time order, as tables usually are: each new minute of an hour is the known one's head with its digits
  // patched in when the zone is a fixed offset of whole hours; other zones convert each minute.
  it.each(["UTC", "-07:00", "+14:00", "+05:30", "-09:45", "Europe/Berlin"])("writes what the converter writes, byte for byte, read in %s", async (zoneName) => {
    const dbName = `textrowsrun${zoneName.replace(/[^a-z0-9]/gi, "").toLowerCase()}`;
    await db.createDatabase(dbName);
    await db.query(`USE ${dbName}; CREATE TABLE t (id INT PRIMARY KEY, a DATETIME(6), b DATETIME, c DATETIME(3))`);
    const r = rng(808);
    // Across minutes, hours, days, months, a leap day, years (short ones too) and a DST change in Europe/Berlin.
    const starts = ["2024-02-28 22:57:10", "1999-12-31 22:58:00", "2024-03-31 00:58:30", "0999-12-31 23:58:00", "0099-06-30 23:59:59", "9999-12-31 22:00:00"];
    const rows: string[] = [];
    let id = 0;
    for (const start of starts) {
      for (let k = 0; k < 400; k++) {
        const at = `'${start}' + INTERVAL ${k * 13 + r(13)} SECOND`;
        const frac = String(r(1_000_000)).padStart(6, "0");
        rows.push(`(${id++}, ${at} + INTERVAL ${frac} MICROSECOND, ${at}, ${r(9) === 0 ? "NULL" : `${at} + INTERVAL ${r(1000)} * 1000 MICROSECOND`})`);
      }
    }
    await db.query(`USE ${dbName}; INSERT INTO t VALUES ${rows.join(", ")}`);
    const conn = await connect({ address: `${db.host}:${db.port}`, user: db.user, sslmode: "disabled" } as any);
    try {
      const [table] = await listTables(conn, [dbName], [{ schema: dbName, table: "t" }]);
      const enc = new RowEncoder(dbName, "t", table!.columns, table!.key, { zone: parseZone(zoneName)! });
      const out = new DocBytes();
      let writer: TextRowWriter | null = null;
      let fast = 0;
      const mismatches: string[] = [];
      await new Promise<void>((resolve, reject) => {
        const q = (conn as any).connection.query({ sql: keylessSql(table!) + " ORDER BY id", rowsAsArray: true });
        rawRows(q);
        q.on("result", (row: RawRow) => {
          writer ??= new TextRowWriter(enc, row.fields);
          out.begin();
          const ok = writer.writeProps(out, row.packet);
          const bytes = Buffer.from(out.end()).toString("utf8");
          if (ok) fast++;
          const expected = enc.fromArray(row.values());
          if (ok && bytes !== expected) mismatches.push(`${bytes}\n!==\n${expected}`);
        })
          .on("error", reject)
          .on("end", () => resolve());
      });
      expect(mismatches.slice(0, 3)).toEqual([]);
      expect(fast).toBe(rows.length);
    } finally {
      await conn.end();
    }
  }, 120_000);
});

describe("plainDouble", () => {
  // The converter gives DOUBLE text back unchanged exactly when this holds; plainDouble must agree on every text.
  const regex = (s: string) => s.length <= 15 && PLAIN_DOUBLE.test(s);
  /** The text as the middle of a larger buffer: the check must not read past either end. */
  const inBuffer = (s: string) => {
    const b = Buffer.from("7." + s + ".5", "latin1");
    return plainDouble(b, 2, b.length - 2);
  };

  it("agrees with the converter's expression on edge values", () => {
    const edges = ["", "0", "-0", "00", "0.", "0.0", "-0.0", "0.5", "-0.5", "0.50", "0.000001", "0.0000001", "0.000005", "-0.0000012",
      "1", "-1", "10", "100", "1.", "1.0", "1.5", "1.05", "1.50", "-12.25", "01", "-01", "1e21", "1e-7", "5e-324", "-", ".", ".5",
      "1..2", "1.2.3", "123456789012345", "1234567890123456", "12345678901234.5", "1234567890123.45", "-12345678901234",
      "1.7976931348623157e308", " 1", "1 ", "+1", "NaN", "inf"];
    for (const s of edges) expect(inBuffer(s), JSON.stringify(s)).toBe(regex(s));
  });

  it("agrees with the converter's expression on seeded random texts", () => {
    const r = rng(1515);
    let plain = 0;
    const wrong: string[] = [];
    for (let k = 0; k < 200_000; k++) {
      const n = r(18);
      let s = "";
      for (let i = 0; i < n; i++) s += "-0123456789.0e"[r(i === 0 ? 14 : r(8) === 0 ? 14 : 11)];
      const want = regex(s);
      if (want) plain++;
      if (inBuffer(s) !== want) wrong.push(s);
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    // Enough of them plain for the comparison to cover the true side.
    expect(plain).toBeGreaterThan(10_000);
  });
});
