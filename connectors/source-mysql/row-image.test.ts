/**
 * The binlog's byte path (row images written as JSON by row-image.ts) against
 * the general one (zongji's decoded values through the RowEncoder's
 * converters): both read the same binlog span of a throwaway MariaDB, and
 * every row's properties must be the same bytes. Edge values and seeded
 * random rows of every type with a fast path, beside some without one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import ZongJi from "@vlasky/zongji";
import { startMariaDb, type MariaDbServer } from "../../test/support/mariadb-server.js";
import { rng } from "../../test/support/rng.js";
import { SKIM_ROWS } from "./binlog.js";
import { binlogEnd, connect } from "./connection.js";
import { DocBytes } from "./doc-bytes.js";
import { RowEncoder } from "./encoder.js";
import { ImageWriter, type RowImage, type UpdateImages } from "./row-image.js";
import { parseZone } from "./timezone.js";
import { kindOfBinlogType } from "./values.js";

let db: MariaDbServer;
beforeAll(async () => {
  db = await startMariaDb();
}, 120_000);
afterAll(async () => {
  await db?.stop();
});

const COLUMNS = `id BIGINT PRIMARY KEY,
  ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED, mi MEDIUMINT, mu MEDIUMINT UNSIGNED,
  i INT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED, db DOUBLE,
  vc VARCHAR(300), vs VARCHAR(20), tx TEXT, mt MEDIUMTEXT, j JSON, vb VARBINARY(300), bl BLOB,
  dt0 DATETIME, dt1 DATETIME(1), dt3 DATETIME(3), dt6 DATETIME(6),
  lat VARCHAR(20) CHARACTER SET latin1, e ENUM('a','b'), de DECIMAL(20,5), f FLOAT, u UUID`;

const NAMES = "id ti tu si su mi mu i iu bi bu db vc vs tx mt j vb bl dt0 dt1 dt3 dt6 lat e de f u".split(" ");

const TEXTS = ["", "plain", 'quote " and \\ backslash', "tab\tnew\nline\u0001", "héllo ✓", "😀 emoji", "\u007f del", "a".repeat(250), "ü".repeat(100)];
const JSONS = ["{}", "[]", '{"a":[1,2.5,"x"],"b":null}', '"str\\u00e9"', '{"é":"✓ 😀"}', "12345678901234567890", "true"];
const DATETIMES = [
  "2024-03-10 02:30:00.123456", "1999-12-31 23:59:59.999999", "2024-01-01 00:00:00", "0000-00-00 00:00:00", "2020-00-15 10:00:05",
  "2024-07-01 12:34:56.5", "1000-01-01 00:00:00", "9999-12-31 23:59:59.999999", "2024-11-03 01:30:00",
];
const INTS: Record<string, [bigint, bigint]> = {
  ti: [-128n, 127n], tu: [0n, 255n], si: [-32768n, 32767n], su: [0n, 65535n], mi: [-8388608n, 8388607n], mu: [0n, 16777215n],
  i: [-2147483648n, 2147483647n], iu: [0n, 4294967295n], bi: [-9223372036854775808n, 9223372036854775807n], bu: [0n, 18446744073709551615n],
};

function literal(s: string): string {
  return "'" + s.replace(/\\/g, "\\\\").replace(/'/g, "''") + "'";
}

/** A random row's SQL values (after the id), NULL often. */
function randomValues(r: (n: number) => number, minute: string): string[] {
  const pick = <T,>(xs: T[]) => xs[r(xs.length)]!;
  const maybe = (v: () => string) => (r(6) === 0 ? "NULL" : v());
  const int = (name: string) => {
    const [lo, hi] = INTS[name]!;
    const span = hi - lo;
    const x = r(4) === 0 ? pick([lo, hi, 0n, -1n > lo ? -1n : lo, 1n]) : lo + (BigInt(r(1 << 30)) * BigInt(r(1 << 30)) * 7919n) % span;
    return x.toString();
  };
  const double = () => {
    const special = ["0", "-0", "1.7976931348623157e308", "-2.2250738585072014e-308", "5e-324", "0.1", "123456.78", "1e21", "1e-7", "-3.5"];
    if (r(3) === 0) return pick(special);
    return String((r(2) ? -1 : 1) * (r(1 << 30) / (1 + r(1 << 20))) * 10 ** (r(40) - 20));
  };
  const text = () => literal(r(3) === 0 ? pick(TEXTS) : Array.from({ length: r(30) }, () => pick(["a", "Z", "9", " ", "é", "✓", "😀", '"', "\\", "\n"])).join(""));
  const bytes = () => "X'" + Array.from({ length: r(40) }, () => r(256).toString(16).padStart(2, "0")).join("") + "'";
  const dt = () => literal(r(2) ? `${minute}:${String(r(60)).padStart(2, "0")}.${String(r(1_000_000)).padStart(6, "0")}` : pick(DATETIMES));
  return [
    ...Object.keys(INTS).map((n) => maybe(() => int(n))),
    maybe(double),
    maybe(text), maybe(() => literal(pick(TEXTS).slice(0, 20))), maybe(text), maybe(text), maybe(() => literal(pick(JSONS))), maybe(bytes), maybe(bytes),
    maybe(dt), maybe(dt), maybe(dt), maybe(dt),
    maybe(() => literal(pick(["", "abc", "déjà"]))), maybe(() => pick(["'a'", "'b'", "''"])), maybe(() => pick(["'1.5'", "'-123456789012345.12345'"])), maybe(() => pick(["1.25", "-3.4e38"])),
    maybe(() => pick(["'123e4567-e89b-12d3-a456-426614174000'", "'00000000-0000-0000-0000-000000000000'"])),
  ];
}

/** Reads `events` rows events of database `dbName` from `from`, decoded (plain) or skimmed. */
function readEvents(from: { file: string; pos: number }, dbName: string, events: number, skim: boolean): Promise<any[]> {
  return new Promise((resolve, reject) => {
    const z: any = new ZongJi({ host: db.host, port: db.port, user: db.user, dateStrings: true, timezone: "Z", jsonStrings: true, supportBigNumbers: true, bigNumberStrings: true });
    if (skim) z[SKIM_ROWS] = true;
    const got: any[] = [];
    z.on("binlog", (e: any) => {
      const name = e.getEventName();
      if (name !== "writerows" && name !== "updaterows" && name !== "deleterows") return;
      got.push({ name, map: e.tableMap[e.tableId], rows: e.rows });
      if (got.length === events) {
        z.stop();
        resolve(got);
      }
    });
    z.on("error", reject);
    z.start({ serverId: 4000 + (skim ? 1 : 2), filename: from.file, position: from.pos, includeSchema: { [dbName]: ["t"] }, includeEvents: ["tablemap", "writerows", "updaterows", "deleterows"] });
  });
}

describe("row images as JSON bytes", () => {
  it("writes every row as the converters write zongji's values, byte for byte", async () => {
    await db.createDatabase("rowimg");
    await db.query(`USE rowimg; CREATE TABLE t (${COLUMNS})`);
    const conn = await connect({ address: `${db.host}:${db.port}`, user: db.user } as any);
    const from = await binlogEnd(conn);
    const r = rng(20261206);
    let statements = 0;
    for (let batch = 0; batch < 12; batch++) {
      const minute = `2024-0${1 + (batch % 9)}-1${batch % 10} 1${batch % 10}:${String(batch * 4).padStart(2, "0")}`;
      const rows = Array.from({ length: 40 }, (_, k) => `(${batch * 40 + k}, ${randomValues(r, minute).join(", ")})`);
      await db.query(`SET SESSION sql_mode = ''; USE rowimg; INSERT INTO t (${NAMES.join(", ")}) VALUES ${rows.join(", ")}`);
      statements++;
      // Updates of every column, some moving the key.
      const sets = NAMES.slice(1).map((n, c) => `${n} = ${randomValues(r, minute)[c]}`);
      await db.query(`SET SESSION sql_mode = ''; USE rowimg; UPDATE t SET ${sets.join(", ")} WHERE id % 3 = ${batch % 3} AND id >= ${batch * 40}`);
      await db.query(`USE rowimg; UPDATE t SET id = id + 100000 WHERE id = ${batch * 40 + 1}`);
      await db.query(`USE rowimg; DELETE FROM t WHERE id % 7 = ${batch % 7} AND id >= ${batch * 40}`);
      statements += 3;
    }
    await conn.end();

    const [plain, skimmed] = await Promise.all([readEvents(from, "rowimg", statements, false), readEvents(from, "rowimg", statements, true)]);
    const zone = parseZone("America/Los_Angeles")!;
    let compared = 0;
    for (let n = 0; n < plain.length; n++) {
      const p = plain[n]!;
      const s = skimmed[n]!;
      expect(s.name).toBe(p.name);
      const columns = p.map.columns.map((c: any) => ({ name: c.name, kind: kindOfBinlogType(c.type, c.charset ?? null, c.name === "j" ? "json" : undefined) }));
      // Fresh encoders for each: the converters' DATETIME memo and the writer's must each start cold or warm alike.
      const enc = new RowEncoder("rowimg", "t", columns, ["id"], { zone });
      const writer = new ImageWriter(new RowEncoder("rowimg", "t", columns, ["id"], { zone }), s.map);
      const out = new DocBytes();
      const bytesOf = (img: RowImage) => {
        out.begin();
        writer.writeProps(out, img);
        return Buffer.from(out.end()).toString("utf8");
      };
      expect(s.rows.length).toBe(p.rows.length);
      p.rows.forEach((row: any, k: number) => {
        if (p.name === "updaterows") {
          const img = s.rows[k] as UpdateImages;
          expect(bytesOf(img.after)).toBe(enc.fromObject(row.after));
          expect(bytesOf(img.before)).toBe(enc.fromObject(row.before));
        } else expect(bytesOf(s.rows[k] as RowImage)).toBe(enc.fromObject(row));
        compared++;
      });
    }
    expect(compared).toBeGreaterThan(500);
  }, 120_000);
});
