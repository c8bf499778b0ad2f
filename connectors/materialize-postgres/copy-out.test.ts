import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type pg from "pg";
import { copyOutBinary, copyOutBinarySpans } from "./copy-out.js";
import { tapCopyData } from "./copy-data-tap.js";
import { adminClient } from "./test-support.js";

const rowsOf = (n: number) => `COPY (SELECT g::text, CASE WHEN g % 3 = 0 THEN NULL ELSE repeat('é', g % 50) END FROM generate_series(1, ${n}) g) TO STDOUT (FORMAT binary)`;
const text = (fields: (Buffer | null)[]) => fields.map((f) => (f === null ? null : f.toString("utf8")));

describe("binary COPY TO as a pg query", () => {
  let conn: pg.Client;
  beforeAll(async () => {
    conn = await adminClient();
  });
  afterAll(async () => {
    await conn.end();
  });

  const want = (n: number) => Array.from({ length: n }, (_, i) => [String(i + 1), (i + 1) % 3 === 0 ? null : "é".repeat((i + 1) % 50)]);

  it("hands over every row in order, NULLs included, and leaves the connection usable", async () => {
    const rows: (string | null)[][] = [];
    await copyOutBinary(conn, rowsOf(20_000), (f) => void rows.push(text(f)));
    expect(rows).toEqual(want(20_000));
    expect((await conn.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
  });

  it("reads rows from the socket's bytes once tapped: the same rows as pg's parser hands over, large ones and notices among them included", async () => {
    // The first COPY above found the connection idle and tapped it.
    const stream = (conn as unknown as { connection: { stream: NodeJS.EventEmitter } }).connection.stream;
    expect(stream.listeners("data").map((f) => f.name)).toEqual(["onData"]);
    expect(tapCopyData(conn)).toBe(true);
    const other = await adminClient();
    try {
      const setup = `CREATE FUNCTION pg_temp.mpgload_noisy(g int) RETURNS int AS $$ BEGIN IF g % 97 = 0 THEN RAISE NOTICE 'row %', g; END IF; RETURN g; END $$ LANGUAGE plpgsql`;
      await conn.query(setup);
      await other.query(setup);
      // Fields up to ~300 KB: rows cut across socket reads, CopyData headers cut too; notices between rows.
      const sql = `COPY (SELECT pg_temp.mpgload_noisy(g), CASE WHEN g % 5 = 0 THEN NULL ELSE repeat(chr(65 + g % 26) || 'é€', CASE WHEN g % 50 = 1 THEN 100000 ELSE g % 300 END) END FROM generate_series(1, 3000) g) TO STDOUT (FORMAT binary)`;
      const collect = (rows: string[]) => (buf: Buffer, sp: Int32Array, n: number) => {
        const row: string[] = [];
        for (let i = 0; i < n; i++) row.push(sp[2 * i + 1]! < 0 ? "NULL" : buf.toString("hex", sp[2 * i]!, sp[2 * i]! + sp[2 * i + 1]!));
        rows.push(row.join(","));
      };
      const tapped: string[] = [];
      const parsed: string[] = [];
      let notices = 0;
      const onNotice = () => void notices++;
      conn.on("notice", onNotice);
      await copyOutBinarySpans(conn, sql, collect(tapped)).finally(() => conn.off("notice", onNotice));
      expect(notices).toBe(30);
      await copyOutBinarySpans(other, sql, collect(parsed), { tap: false });
      expect((other as unknown as { connection: { stream: NodeJS.EventEmitter } }).connection.stream.listeners("data").map((f) => f.name)).not.toContain("onData");
      expect(tapped.length).toBe(3000);
      expect(tapped.filter((r) => r.length > 200_000).length).toBe(60);
      expect(tapped).toEqual(parsed);
    } finally {
      await other.end();
    }
    expect((await conn.query("SELECT 8 AS eight")).rows).toEqual([{ eight: 8 }]);
  });

  it("pauses while rows wait, and still takes every row once", async () => {
    const rows: (string | null)[][] = [];
    let waiting = 0;
    let most = 0;
    await copyOutBinary(conn, rowsOf(5_000), (f) => {
      rows.push(text(f));
      if (rows.length % 100 !== 0) return;
      waiting++;
      most = Math.max(most, waiting);
      return new Promise<void>((r) => setTimeout(r, 1)).then(() => void waiting--);
    });
    expect(rows).toEqual(want(5_000));
    expect(most).toBeGreaterThan(0);
    expect(waiting).toBe(0);
    expect((await conn.query("SELECT 2 AS two")).rows).toEqual([{ two: 2 }]);
  });

  it("rejects with the server's error (rows before it were handed over) and the connection recovers", async () => {
    let seen = 0;
    const err = await copyOutBinary(conn, "COPY (SELECT 10 / (3000 - g) FROM generate_series(1, 5000) g) TO STDOUT (FORMAT binary)", () => void seen++).catch((e) => e);
    expect((err as { code?: string }).code).toBe("22012"); // division_by_zero
    expect(seen).toBeLessThan(3000);
    expect((await conn.query("SELECT 3 AS three")).rows).toEqual([{ three: 3 }]);
  });

  it("rejects with the first error of onRow, thrown or rejected, after the query ends", async () => {
    let calls = 0;
    const thrown = await copyOutBinary(conn, rowsOf(3_000), () => {
      if (++calls === 10) throw new Error("row 10 is bad");
    }).catch((e) => e);
    expect((thrown as Error).message).toBe("row 10 is bad");
    expect(calls).toBe(10);
    expect((await conn.query("SELECT 4 AS four")).rows).toEqual([{ four: 4 }]);

    calls = 0;
    const rejected = await copyOutBinary(conn, rowsOf(3_000), () => (++calls === 20 ? Promise.reject(new Error("row 20 failed")) : undefined)).catch((e) => e);
    expect((rejected as Error).message).toBe("row 20 failed");
    expect((await conn.query("SELECT 5 AS five")).rows).toEqual([{ five: 5 }]);
  });

  it("rejects a statement that is not a COPY TO", async () => {
    await expect(copyOutBinary(conn, "SELEC 1", () => undefined)).rejects.toMatchObject({ code: "42601" });
    expect((await conn.query("SELECT 6 AS six")).rows).toEqual([{ six: 6 }]);
  });

  it("sends a query ahead while another runs, as bytes; each gets its own rows, and a failure ahead fails only its own", async () => {
    const spans = (rows: (string | null)[][]) => (buf: Buffer, sp: Int32Array, n: number) => {
      const row: (string | null)[] = [];
      for (let i = 0; i < n; i++) row.push(sp[2 * i + 1]! < 0 ? null : buf.toString("utf8", sp[2 * i]!, sp[2 * i]! + sp[2 * i + 1]!));
      rows.push(row);
    };
    const wire = (conn as unknown as { connection: { _send(b: Buffer): unknown } }).connection;
    const send = wire._send;
    const sent: number[] = [];
    wire._send = function (this: unknown, b: Buffer) {
      sent.push(b[0]!);
      return send.call(this, b);
    };
    try {
      const a: (string | null)[][] = [];
      const b: (string | null)[][] = [];
      const c: (string | null)[][] = [];
      const first = copyOutBinarySpans(conn, rowsOf(20_000), spans(a), { ahead: true });
      // As the SQL's UTF-8 bytes in parts, sent at once: the first query is still running.
      const second = copyOutBinarySpans(conn, [Buffer.from(rowsOf(7_000).slice(0, 10)), Buffer.from(rowsOf(7_000).slice(10))], spans(b), { ahead: true });
      expect(sent).toEqual([0x51, 0x51]);
      const bad = copyOutBinarySpans(conn, "COPY (SELECT 1 / 0) TO STDOUT (FORMAT binary)", () => undefined, { ahead: true }).catch((e) => e);
      const third = copyOutBinarySpans(conn, rowsOf(300), spans(c), { ahead: true });
      expect(sent).toEqual([0x51, 0x51, 0x51, 0x51]);
      await Promise.all([first, second, third]);
      expect((await bad) as Error).toMatchObject({ code: "22012" });
      expect(a).toEqual(want(20_000));
      expect(b).toEqual(want(7_000));
      expect(c).toEqual(want(300));
    } finally {
      wire._send = send;
    }
    expect((await conn.query("SELECT 7 AS seven")).rows).toEqual([{ seven: 7 }]);
  });
});
