/**
 * copyOut (CopyData headers stripped in place) against pg-copy-streams' own
 * COPY TO stream, on a real server: the same bytes for rows of every size
 * (a row larger than a socket read, headers cut by reads), with notices
 * between rows; and an error before or during the copy fails the query
 * with the server's error and leaves the connection usable.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import type pg from "pg";
import copyStreams from "pg-copy-streams";
import { startPgCluster, type PgCluster } from "../../test/support/pg-cluster.js";
import { normalizeConfig } from "./config.js";
import { connect } from "./connection.js";
import { copyOut } from "./copy-out.js";

let cluster: PgCluster;
let client: pg.Client;
const db = "copy_out";

beforeAll(async () => {
  cluster = await startPgCluster();
  await cluster.createDatabase(db);
  await cluster.query(db, `CREATE TABLE t (id int PRIMARY KEY, v text)`);
  // Sizes from empty to 300 kB, so that rows and message headers fall across socket reads.
  await cluster.query(db, `INSERT INTO t SELECT g, repeat(md5(g::text), (g * 7919) % 97) || E'\\t\\\\é' FROM generate_series(1, 20000) g`);
  await cluster.query(db, `INSERT INTO t VALUES (0, repeat('x', 300000)), (-1, NULL)`);
  await cluster.query(db, `CREATE FUNCTION noisy(i int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN IF i % 1000 = 0 THEN RAISE NOTICE 'row %', i; END IF; RETURN i; END $$`);
  client = await connect(normalizeConfig({ address: `${cluster.host}:${cluster.port}`, database: db, user: cluster.user, sslmode: "disable", slot: "s", publication: "p" }));
});
afterAll(async () => {
  await client?.end();
  await cluster?.stop();
});

async function read(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

it("gives the bytes pg-copy-streams gives, with notices between rows", async () => {
  for (const sql of [`SELECT * FROM t ORDER BY id`, `SELECT noisy(id), v FROM t ORDER BY id`, `SELECT * FROM t WHERE false`]) {
    const want = await read(client.query(copyStreams.to(`COPY (${sql}) TO STDOUT`)));
    const got = await read(client.query(copyOut(sql)));
    expect(got.length).toBe(want.length);
    expect(got.equals(want)).toBe(true);
  }
  expect(await read(client.query(copyOut(`SELECT * FROM t WHERE id = -1`)))).toEqual(Buffer.from("-1\t\\N\n"));
});

it("fails with the server's error, before or during the copy, and the connection stays usable", async () => {
  await expect(read(client.query(copyOut(`SELECT * FROM missing_table`)))).rejects.toMatchObject({ code: "42P01" });
  expect((await client.query(`SELECT 1 AS one`)).rows).toEqual([{ one: 1 }]);
  await expect(read(client.query(copyOut(`SELECT 100 / (g - 15000), v FROM t JOIN generate_series(1, 20000) g ON g = id ORDER BY id`)))).rejects.toMatchObject({
    code: "22012",
  });
  expect((await client.query(`SELECT 2 AS two`)).rows).toEqual([{ two: 2 }]);
});
