/**
 * The catalog listing against a table that copying ALTER TABLEs keep rebuilding: every listing shows the table
 * whole (all its columns, its primary key), never caught between the swap of its old and new copies.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import mysql from "mysql2/promise";
import { listTables } from "./discovery.js";

const DB = `catalog_race_${process.pid}`;
let admin: mysql.Connection;
let reader: mysql.Connection;

beforeAll(async () => {
  admin = await mysql.createConnection({ host: "127.0.0.1", port: 3306, user: "root", multipleStatements: true });
  reader = await mysql.createConnection({ host: "127.0.0.1", port: 3306, user: "root" });
  await admin.query(`DROP DATABASE IF EXISTS ${DB}; CREATE DATABASE ${DB};
    CREATE TABLE ${DB}.t (id INT PRIMARY KEY, a INT, b VARCHAR(5)); INSERT INTO ${DB}.t VALUES (1, 1, 'x')`);
});
afterAll(async () => {
  await admin?.query(`DROP DATABASE IF EXISTS ${DB}`);
  await admin?.end();
  await reader?.end();
});

it.each([
  ["the capture's listing of its tables", true],
  ["discovery's listing of a whole database", false],
])("%s shows a table whole while copying ALTER TABLEs swap its copies", async (_, byName) => {
  let stop = false;
  let alters = 0;
  // A type change rebuilds the table (ALGORITHM=COPY): the new copy is renamed in after the old one is renamed away.
  const altering = (async () => {
    while (!stop) {
      await admin.query(`ALTER TABLE ${DB}.t MODIFY a BIGINT; ALTER TABLE ${DB}.t MODIFY a DECIMAL(5,2)`);
      alters += 2;
    }
  })();
  const seen = new Map<string, number>();
  try {
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      const tables = await listTables(reader, [DB], byName ? [{ schema: DB, table: "t" }] : undefined);
      const shape = tables.map((t) => `${t.name}(${t.columns.map((c) => `${c.name} ${c.kind}`).join(", ")}) ${t.keySource} ${t.key}`).join("; ");
      seen.set(shape, (seen.get(shape) ?? 0) + 1);
    }
  } finally {
    stop = true;
    await altering;
  }
  // Only the table's whole shapes (before and after each ALTER), each with its key; and the ALTERs ran meanwhile.
  // A whole-database listing may miss the table at the moment it is renamed in, as if it were renamed away.
  const whole = [...(byName ? [] : [""]), "t(id int, a int, b text) primary key id", "t(id int, a decimal, b text) primary key id"];
  expect([...seen.keys()].filter((s) => !whole.includes(s))).toEqual([]);
  expect([...seen.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(50);
  expect(alters).toBeGreaterThan(20);
}, 30_000);

it("lists a keyless table the user may not SELECT from, as information_schema shows it", async () => {
  const user = `catalog_race_${process.pid}`;
  await admin.query(`CREATE TABLE ${DB}.k (msg VARCHAR(20), n INT);
    DROP USER IF EXISTS '${user}'@'%'; CREATE USER '${user}'@'%'; GRANT INSERT ON ${DB}.k TO '${user}'@'%'`);
  const limited = await mysql.createConnection({ host: "127.0.0.1", port: 3306, user });
  try {
    for (const only of [undefined, [{ schema: DB, table: "k" }]]) {
      const tables = await listTables(limited, [DB], only);
      expect(tables.map((t) => [t.name, t.columns.map((c) => c.name), t.keySource])).toEqual([["k", ["msg", "n"], "none"]]);
    }
  } finally {
    await limited.end();
    await admin.query(`DROP USER IF EXISTS '${user}'@'%'; DROP TABLE ${DB}.k`);
  }
});
