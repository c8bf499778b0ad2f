/**
 * Connections and quoting against the local MariaDB: the session settings
 * that make statements mean one thing under any server configuration,
 * identifiers that survive ANSI_QUOTES and NO_BACKSLASH_ESCAPES, and
 * connection failures a user can act on.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../test/support/free-port.js";
import { connectMysql, SESSION_SQL_MODE, type MysqlConnection, type MysqlTarget } from "./connect.js";
import { mysqlColumnKey, mysqlIdentifierProblem, quoteMysqlIdentifier } from "./quote.js";

const u = new URL(process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test");
const target: MysqlTarget = {
  host: u.hostname,
  port: Number(u.port || 3306),
  user: decodeURIComponent(u.username || "root"),
  password: decodeURIComponent(u.password),
  database: u.pathname.slice(1) || undefined,
  sslmode: "disabled",
};
const database = `quote_${process.pid}_${Date.now().toString(36)}`;
let conn: MysqlConnection;

beforeAll(async () => {
  conn = await connectMysql(target);
  await conn.query(`CREATE DATABASE ${quoteMysqlIdentifier(database)}`);
});
afterAll(async () => {
  await conn.query(`DROP DATABASE IF EXISTS ${quoteMysqlIdentifier(database)}`);
  await conn.end();
});

describe("connectMysql", () => {
  it("sets its own sql_mode and UTC, whatever the server's defaults", async () => {
    const [rows] = await conn.query<any[]>("SELECT @@session.sql_mode AS m, @@session.time_zone AS z");
    expect(rows[0].m.split(",").sort()).toEqual(SESSION_SQL_MODE.split(",").sort());
    expect(rows[0]).toMatchObject({ z: "+00:00" });
  });

  it("names what failed: a refused port, a missing database, a refused password (never shown), TLS the server lacks", async () => {
    const port = await freePort();
    await expect(connectMysql({ ...target, port })).rejects.toThrow(`connection to ${target.host}:${port} was refused`);
    await expect(connectMysql({ ...target, database: "no_such_db_" + process.pid })).rejects.toThrow(/database "no_such_db_\d+" does not exist/);
    // MariaDB answers an unknown user with error 1045 or, about once in
    // seven attempts, 1698: thirty attempts see both and must read alike.
    for (let i = 0; i < 30; i++) {
      const err = await connectMysql({ ...target, user: `nobody_${process.pid}_${i}`, password: "hunter2-secret" }).catch((e) => e);
      expect(String(err)).toMatch(/user "nobody_\d+_\d+" was refused/);
      expect(String(err)).not.toContain("hunter2-secret");
    }
    const [ssl] = await conn.query<any[]>("SELECT @@have_ssl AS s");
    if (ssl[0].s !== "YES") {
      await expect(connectMysql({ ...target, sslmode: "required" })).rejects.toThrow(/does not offer TLS, but advanced.sslmode is required/);
      const plain = await connectMysql({ ...target, sslmode: "preferred" });
      await plain.end();
    }
  });
});

describe("identifiers", () => {
  const nasty = ["plain", "Mixed Case", "back`tick", 'dq"uote', "sq'uote", "back\\slash", "semi;colon -- x", "✓ ünï"];

  it("backtick quoting means the same under ANSI_QUOTES and NO_BACKSLASH_ESCAPES as under the defaults", async () => {
    for (const mode of ["ANSI_QUOTES,NO_BACKSLASH_ESCAPES", ""]) {
      const s = await connectMysql({ ...target, database });
      try {
        await s.query(`SET SESSION sql_mode = '${mode}'`);
        const table = quoteMysqlIdentifier(`t ${mode || "default"} \`'"\\`);
        await s.query(`CREATE TABLE ${table} (${nasty.map((n, i) => `${quoteMysqlIdentifier(n)} VARCHAR(50)${i === 0 ? " PRIMARY KEY" : ""}`).join(", ")})`);
        const values = nasty.map((n) => `v:${n}\\'"\``);
        await s.execute(`INSERT INTO ${table} (${nasty.map(quoteMysqlIdentifier).join(", ")}) VALUES (${nasty.map(() => "?").join(", ")})`, values);
        const [rows] = await s.query<any[]>(`SELECT ${nasty.map(quoteMysqlIdentifier).join(", ")} FROM ${table}`);
        expect(Object.keys(rows[0])).toEqual(nasty);
        expect(Object.values(rows[0])).toEqual(values);
      } finally {
        await s.end();
      }
    }
  });

  it("knows which names MySQL refuses and which it compares as equal", () => {
    expect(mysqlIdentifierProblem("ok name")).toBeUndefined();
    expect(mysqlIdentifierProblem("emoji 🐟")).toMatch(/Basic Multilingual Plane/);
    expect(mysqlIdentifierProblem("nul\u0000")).toMatch(/NUL/);
    expect(mysqlIdentifierProblem("space ")).toMatch(/end with a space/);
  });

  it("compares column names as the server does: without case, with accents", async () => {
    const pairs: Array<[string, string]> = [["A", "a"], ["Ünï", "ünÏ"], ["e", "é"], ["Ünï", "uni"], ["straße", "STRASSE"], ["x", "y"]];
    for (const [a, b] of pairs) {
      const dup = await conn
        .query(`CREATE TEMPORARY TABLE ${quoteMysqlIdentifier(database)}.pair (${quoteMysqlIdentifier(a)} INT, ${quoteMysqlIdentifier(b)} INT)`)
        .then(() => conn.query(`DROP TEMPORARY TABLE ${quoteMysqlIdentifier(database)}.pair`).then(() => false))
        .catch((e) => (e.code === "ER_DUP_FIELDNAME" ? true : Promise.reject(e)));
      expect([a, b, mysqlColumnKey(a) === mysqlColumnKey(b)]).toEqual([a, b, dup]);
    }
  });
});
