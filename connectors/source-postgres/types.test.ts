/**
 * The same values, read by the backfill and by the change stream, must give
 * identical documents; and a few of them must be exactly what we promise.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { startPgCluster, type PgCluster } from "../../test/support/pg-cluster.js";
import { MemoryOutput, startCapture } from "./testing.js";

let pg: PgCluster;
beforeAll(async () => {
  pg = await startPgCluster();
});
afterAll(async () => {
  await pg?.stop();
});

const COLUMNS = `
  i2 int2, i4 int4, i8 int8, num numeric, num_p numeric(20,5), f4 float4, f8 float8, b bool,
  t text, vc varchar(20), ch char(5), by bytea, j json, jb jsonb, u uuid,
  d date, tm time, tmtz timetz, ts timestamp, tstz timestamptz, iv interval,
  ai int4[], at text[], a2 int8[][], mood mood, moods mood[], ip inet, net cidr, mac macaddr, mac8 macaddr8,
  m money, x xml, bits bit(4), vb varbit, pt point, r int4range, dom posint, comp pair, tsv tsvector, tstzs timestamptz[]`;

// One row per line; each is inserted once before the capture (backfill) and once after (stream).
const ROWS = [
  `1, -32768, 2147483647, 9223372036854775807, '12345678901234567890.123456789012345', 3.14159, 1.5, 'NaN', true,
   E'quote " backslash \\\\ tab \\t newline \\n unicode é 😀', 'varchar', 'ab', '\\xdeadbeef00', '{"a": [1, 2.50, 12345678901234567890],\n "b": null}', '{"k": {"z": 1, "a": "x"}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
   '2024-02-29', '23:59:59.999999', '12:00:00+05:30', '2024-01-02 03:04:05.678', '2024-06-30 23:30:00.5-07', 'P1Y2M3DT4H5M6.5S',
   '{1,NULL,3}', '{"a,b","c\\"d",NULL,"NULL"}', '{{1,2},{3,4}}', 'happy', '{sad,happy}', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
   '12.34', '<a>x</a>', '1010', '10101', '(1.5,-2)', '[1,10)', 42, '(7,"seven")', 'fat cat', '{"2020-01-01 00:00:00+00","infinity"}'`,
  `2, 0, 0, -9223372036854775808, 'NaN', 0.00000, '-Infinity', '-0', false,
   '', '', '', '', '[]', 'null', '00000000-0000-0000-0000-000000000000',
   'infinity', '00:00:00', '00:00:00-08', '1999-12-31 23:59:59', '-infinity', '0 seconds',
   '{}', '{}', '{}', 'sad', '{}', '::1', '::/0', '00:00:00:00:00:00', '00:00:00:00:00:00:00:00',
   '-1', '', '0000', '', '(0,0)', 'empty', 1, '(,)', '', '{}'`,
  `3, NULL, NULL, NULL, NULL, NULL, 'Infinity', 1e300, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   '0044-03-15 BC', NULL, NULL, '10000-01-01 00:00:00', '2024-03-10 02:30:00+00', NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL`,
];

it("gives identical documents from backfill and replication for every built-in type", async () => {
  const db = "types";
  await pg.createDatabase(db);
  await pg.query(db, `CREATE TYPE mood AS ENUM ('sad', 'happy')`);
  await pg.query(db, `CREATE DOMAIN posint AS int4 CHECK (VALUE > 0)`);
  await pg.query(db, `CREATE TYPE pair AS (n int, s text)`);
  await pg.query(db, `CREATE TABLE matrix (id int PRIMARY KEY, ${COLUMNS})`);
  for (const r of ROWS) await pg.query(db, `INSERT INTO matrix VALUES (${r})`);

  const out = new MemoryOutput();
  const cfg = {
    address: `${pg.host}:${pg.port}`, database: db, user: pg.user, sslmode: "disable",
    slot: "slot_types", publication: "pub_types", heartbeat_interval_seconds: 1,
  };
  const cap = startCapture(cfg, [{ namespace: "public", stream: "matrix" }], out);
  await out.until(() => out.state.bindingStateV1?.["public%2Fmatrix"]?.mode === "active", 30_000, "backfill");
  for (const r of ROWS) await pg.query(db, `INSERT INTO matrix VALUES (${r.replace(/^(\d+),/, (_, n) => `${Number(n) + 100},`)})`);
  await out.until(() => out.committed.filter((d) => d.doc.id > 100).length === ROWS.length, 30_000, "streamed rows");
  await cap.stop();

  const strip = (text: string) => text.replace(/^\{"id":\d+,/, "{").replace(/,"_meta":.*$/, "}");
  for (let i = 0; i < ROWS.length; i++) {
    const backfilled = out.committed.find((d) => d.doc.id === i + 1 && d.doc._meta.source.snapshot)!;
    const streamed = out.committed.find((d) => d.doc.id === i + 101)!;
    expect(backfilled, `row ${i + 1} backfilled`).toBeDefined();
    expect(streamed, `row ${i + 1} streamed`).toBeDefined();
    expect(strip(streamed.text)).toBe(strip(backfilled.text));
  }

  const text = out.committed.find((d) => d.doc.id === 1)!.text;
  const doc = JSON.parse(text);
  // int8 exact: the digits are in the JSON text, not rounded through a double.
  expect(text).toContain(`"i8":9223372036854775807,`);
  expect(out.committed.find((d) => d.doc.id === 2)!.text).toContain(`"i8":-9223372036854775808,`);
  expect(doc.num).toBe("12345678901234567890.123456789012345");
  expect(doc.num_p).toBe("3.14159");
  expect(doc.f8).toBe("NaN");
  expect(doc.t).toBe('quote " backslash \\ tab \t newline \n unicode é 😀');
  expect(doc.ch).toBe("ab   ");
  expect(doc.by).toBe(Buffer.from("deadbeef00", "hex").toString("base64"));
  expect(doc.j).toEqual({ a: [1, 2.5, 12345678901234567890], b: null });
  expect(text).toContain("12345678901234567890]");
  expect(doc.jb).toEqual({ k: { a: "x", z: 1 } });
  expect(doc.d).toBe("2024-02-29");
  expect(doc.tm).toBe("23:59:59.999999Z");
  expect(doc.tmtz).toBe("12:00:00+05:30");
  expect(doc.ts).toBe("2024-01-02T03:04:05.678Z");
  // 23:30 at -07:00 is 06:30 UTC the next day, whatever the server's zone.
  expect(doc.tstz).toBe("2024-07-01T06:30:00.5Z");
  expect(doc.iv).toBe("P1Y2M3DT4H5M6.5S");
  expect(doc.ai).toEqual([1, null, 3]);
  expect(doc.at).toEqual(["a,b", 'c"d', null, "NULL"]);
  expect(doc.a2).toEqual([[1, 2], [3, 4]]);
  expect(doc.mood).toBe("happy");
  expect(doc.moods).toEqual(["sad", "happy"]);
  expect(doc.ip).toBe("192.168.0.1/24");
  expect(doc.mac8).toBe("08:00:2b:01:02:03:04:05");
  expect(doc.dom).toBe(42);
  expect(doc.comp).toBe('(7,seven)');
  expect(doc.r).toBe("[1,10)");
  expect(doc.tstzs).toEqual(["2020-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"]);

  const two = out.committed.find((d) => d.doc.id === 2)!.doc;
  expect(two.f4).toBe("-Infinity");
  expect(two.f8).toBe(-0);
  expect(two.num).toBe("NaN");
  expect(two.d).toBe("9999-12-31");
  expect(two.tstz).toBe("0000-01-01T00:00:00Z");
  expect(two.jb).toBeNull();
  const three = out.committed.find((d) => d.doc.id === 3)!.doc;
  expect(three.i2).toBeNull();
  expect(three.f8).toBe(1e300);
  expect(three.d).toBe("0000-01-01");
  expect(three.ts).toBe("9999-12-31T23:59:59.999999Z");
  expect(three.tstz).toBe("2024-03-10T02:30:00Z");
});
