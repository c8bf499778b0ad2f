/**
 * The type matrix: every MariaDB type reads the same through the backfill
 * (text protocol) and the binlog (row images), with exact values where a
 * JS number would round.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMariaDb, type MariaDbServer } from "../../test/support/mariadb-server.js";
import { configFor, MemoryOutput, modeOf, startCapture } from "./testing.js";

let db: MariaDbServer;
beforeAll(async () => {
  db = await startMariaDb();
}, 120_000);
afterAll(async () => {
  await db?.stop();
});

const COLUMNS = `
  id INT PRIMARY KEY,
  ti TINYINT, tu TINYINT UNSIGNED, mi MEDIUMINT, bi BIGINT, bu BIGINT UNSIGNED,
  d DECIMAL(65,30), d2 DECIMAL(10,4), f FLOAT, db DOUBLE,
  dt DATE, dtm DATETIME(6), dt0 DATETIME, ts TIMESTAMP(3) NULL DEFAULT NULL, tm TIME(6), y YEAR,
  b BIT(10), b64 BIT(64),
  e ENUM('a','b,c','d'), s SET('x','y','z'), j JSON,
  c CHAR(5), vc VARCHAR(50), tx TEXT, bin BINARY(4), vb VARBINARY(10), bl BLOB,
  u UUID, geo GEOMETRY, g INT AS (ti + 1) VIRTUAL, gs INT AS (ti * 2) PERSISTENT`;

const ROWS = `
  (1, -128, 255, -8388608, -9223372036854775808, 18446744073709551615,
   '12345678901234567890123456789012345.123456789012345678901234567890', -123.45, 1.2345678, 0.1,
   '0000-00-00', '2024-03-10 02:30:00.123456', '0000-00-00 00:00:00', '2024-01-01 00:00:00.123', '-838:59:59.000000', 0,
   b'1010101010', b'1111111111111111111111111111111111111111111111111111111111111111',
   'b,c', 'x,z', '{"a": [1, 2.50, "x"], "big": 12345678901234567890}',
   'ab', 'héllo ✓ 😀', 'multi\\nline "q"', X'00010200', X'ff00', X'deadbeef',
   '123e4567-e89b-12d3-a456-426614174000', ST_GeomFromText('POINT(1.5 -2)')),
  (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (3, 127, 0, 8388607, 9223372036854775807, 0, '-0.000000000000000000000000000001', 0, -3.4e38, 1.7976931348623157e308,
   '2020-00-15', '1999-12-31 23:59:59.999999', '1970-01-01 00:00:00', '2038-01-19 03:14:07.999', '12:00:00.5', 2155,
   b'0', b'0', '', '', '[]', '', '', '', X'', X'', X'', '00000000-0000-0000-0000-000000000000',
   ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0.1 0.1, 0 0))'))`;

const INSERT = `INSERT INTO types (id, ti, tu, mi, bi, bu, d, d2, f, db, dt, dtm, dt0, ts, tm, y, b, b64, e, s, j, c, vc, tx, bin, vb, bl, u, geo) VALUES`;

describe("source-mysql types", () => {
  it("reads every type the same from the backfill and the binlog, exactly", async () => {
    await db.createDatabase("types");
    await db.query(`USE types; CREATE TABLE types (${COLUMNS})`);
    await db.query(`SET SESSION sql_mode = ''; USE types; ${INSERT} ${ROWS}`);
    const out = new MemoryOutput();
    const cap = startCapture(configFor(db, { timezone: "America/Los_Angeles" }), [{ namespace: "types", stream: "types" }], out);
    await out.until(() => modeOf(out.state, "types%2Ftypes") === "active", 30_000, "backfill");
    // The same rows again, through the binlog.
    await db.query(`SET SESSION sql_mode = ''; USE types; ${INSERT} ${ROWS.replace(/\((\d), /g, (_, n) => `(10${n}, `)}`);
    await out.until(() => out.committed.filter((d) => d.doc.id > 100).length === 3, 30_000, "streamed rows");
    await cap.stop();
    expect(cap.error).toBeUndefined();

    const strip = (doc: any) => {
      const { id, _meta, ...rest } = doc;
      return rest;
    };
    const byId = new Map(out.committed.map((d) => [d.doc.id, d]));
    for (const id of [1, 2, 3]) {
      expect(byId.get(id)!.doc._meta.source.snapshot).toBe(true);
      expect(strip(byId.get(100 + id)!.doc)).toEqual(strip(byId.get(id)!.doc));
      // Byte-identical JSON text, not only equal after parsing (which would hide rounded numbers).
      const text = (t: string) => t.replace(/,?"_meta":\{.*$/, "").replace(/^\{"id":\d+,?/, "");
      expect(text(byId.get(100 + id)!.text)).toBe(text(byId.get(id)!.text));
    }
    const r1 = byId.get(1)!;
    expect(r1.text).toContain('"bu":18446744073709551615');
    expect(r1.text).toContain('"bi":-9223372036854775808');
    expect(r1.text).toContain('"b64":18446744073709551615');
    expect(r1.doc).toMatchObject({
      ti: -128,
      tu: 255,
      d: "12345678901234567890123456789012345.123456789012345678901234567890",
      d2: "-123.4500",
      f: 1.2345678,
      db: 0.1,
      dt: "0001-01-01",
      // DATETIME is read in the configured zone (America/Los_Angeles: PDT began at 02:00, so 02:30 does not exist and reads as 03:30 PDT).
      dtm: "2024-03-10T10:30:00.123456Z",
      dt0: "0001-01-01T00:00:00Z",
      // TIMESTAMP carries its own zone; the server's (-07:00) does not shift it.
      tm: "-838:59:59.000000",
      y: 0,
      b: 682,
      e: "b,c",
      s: "x,z",
      j: { a: [1, 2.5, "x"], big: 12345678901234567890 },
      c: "ab",
      vc: "héllo ✓ 😀",
      tx: 'multi\nline "q"',
      bin: Buffer.from([0, 1, 2, 0]).toString("base64"),
      vb: Buffer.from([0xff, 0]).toString("base64"),
      bl: Buffer.from([0xde, 0xad, 0xbe, 0xef]).toString("base64"),
      u: "123e4567-e89b-12d3-a456-426614174000",
      geo: { x: 1.5, y: -2 },
      g: -127,
      gs: -256,
    });
    expect(r1.text).toContain('"big": 12345678901234567890');
    const [{ utc }] = await db.query(`SELECT DATE_FORMAT(CONVERT_TZ(ts, @@session.time_zone, '+00:00'), '%Y-%m-%dT%H:%i:%s.%fZ') AS utc FROM types.types WHERE id = 1`);
    expect(r1.doc.ts).toBe(String(utc).replace(/(\.\d{3})\d{3}Z$/, "$1Z"));
    expect(byId.get(2)!.doc).toMatchObject({ ti: null, bu: null, d: null, dt: null, j: null, bl: null, u: null, g: null });
    expect(byId.get(3)!.doc).toMatchObject({ dt: "0001-01-01", dtm: "2000-01-01T07:59:59.999999Z", y: 2155, e: "", s: "", j: [], b: 0, f: -3.4e38, geo: [[{ x: 0, y: 0 }, { x: 1, y: 0 }, { x: 1, y: 1 }, { x: 0.1, y: 0.1 }, { x: 0, y: 0 }]], db: 1.7976931348623157e308 });
  }, 90_000);

  it("reads MariaDB INET4 and INET6 the same from the backfill and the binlog, and pages a backfill by an INET4 key", async () => {
    await db.createDatabase("inet");
    await db.query(`USE inet; CREATE TABLE t (k INET4 PRIMARY KEY, v6 INET6)`);
    // Trailing zero bytes (which the binlog drops), IPv4-mapped and -compatible forms, and zero-run choices.
    const rows: [string, string][] = [
      ["0.0.0.0", "::"], ["0.0.0.1", "::1"], ["10.0.0.0", "::ffff:1.2.3.4"], ["10.0.0.1", "::1.2.3.4"], ["127.0.0.1", "2001:db8::1"],
      ["192.168.1.0", "2001:db8:0:0:1:0:0:1"], ["200.1.0.0", "fe80::"], ["255.255.255.255", "1:0:0:2:0:0:0:3"],
    ];
    await db.query(`INSERT INTO inet.t VALUES ${rows.map(() => "(?, ?)").join(", ")}`, rows.flat());
    const out = new MemoryOutput();
    const cap = startCapture(configFor(db, { backfill_chunk_size: 3 }), [{ namespace: "inet", stream: "t" }], out);
    try {
      await out.until(() => modeOf(out.state, "inet%2Ft") === "active", 60_000, "backfill");
      // The same rows again, through the binlog.
      await db.query(`USE inet; DELETE FROM t; INSERT INTO t VALUES ${rows.map(() => "(?, ?)").join(", ")}`, rows.flat());
      await out.until(() => out.committed.filter((d) => d.doc._meta.op === "c" && !d.doc._meta.source.snapshot).length === rows.length, 60_000, "the binlog rows");
    } finally {
      await cap.stop();
    }
    const pick = (snapshot: boolean) =>
      out.committed.filter((d) => d.doc._meta.op === "c" && Boolean(d.doc._meta.source.snapshot) === snapshot).map((d) => [d.doc.k, d.doc.v6]);
    const printed = await db.query<{ k: string; v6: string }>(`SELECT CAST(k AS CHAR) AS k, CAST(v6 AS CHAR) AS v6 FROM inet.t ORDER BY k`);
    // Each row once, in key order, as the server prints it; and the binlog reads the same.
    expect(pick(true)).toEqual(printed.map((r) => [r.k, r.v6]));
    expect(pick(false)).toEqual(pick(true));
    expect(printed.find((r) => r.k === "255.255.255.255")?.v6).toBe("1:0:0:2::3");
  }, 90_000);
});
