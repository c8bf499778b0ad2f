import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type pg from "pg";
import { copyOutBinary } from "./copy-out.js";
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
});
