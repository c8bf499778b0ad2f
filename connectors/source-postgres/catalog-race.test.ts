/**
 * The catalog listing while another session drops and re-creates a table: every listing shows the table whole
 * (its columns and primary key) or not at all, never a dropped table without its columns.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import pg from "pg";
import { listTables } from "./discovery.js";

const SCHEMA = `catalog_race_${process.pid}`;
const connect = async () => {
  const c = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: "postgres" });
  await c.connect();
  return c;
};
let admin: pg.Client;
let reader: pg.Client;

beforeAll(async () => {
  admin = await connect();
  reader = await connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE; CREATE SCHEMA ${SCHEMA}`);
});
afterAll(async () => {
  await admin?.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await admin?.end();
  await reader?.end();
});

it.each([
  ["the capture's listing of its tables", true],
  ["discovery's listing of a schema", false],
])("%s shows a table whole, or not at all, while it is dropped and re-created", async (_, byName) => {
  let stop = false;
  let drops = 0;
  const churn = (async () => {
    while (!stop) {
      await admin.query(`DROP TABLE IF EXISTS ${SCHEMA}.t`);
      await admin.query(`CREATE TABLE ${SCHEMA}.t (id int PRIMARY KEY, a text, b bigint)`);
      drops++;
    }
  })();
  const seen = new Map<string, number>();
  try {
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      const tables = await listTables(reader, [SCHEMA], byName ? [{ schema: SCHEMA, table: "t" }] : undefined);
      const shape = tables.map((t) => `${t.name}(${t.columns.map((c) => `${c.name} ${c.typeName}`).join(", ")}) ${t.keySource} ${t.key}`).join("; ");
      seen.set(shape, (seen.get(shape) ?? 0) + 1);
    }
  } finally {
    stop = true;
    await churn;
  }
  const whole = ["", "t(id integer, a text, b bigint) primary key id"];
  expect([...seen.keys()].filter((s) => !whole.includes(s))).toEqual([]);
  expect(seen.get(whole[1])).toBeGreaterThan(20);
  expect(drops).toBeGreaterThan(20);
});
