/**
 * For a test file: an admin connection opened before its tests, and fresh
 * databases created on demand and dropped after them, so runs leave nothing
 * behind and parallel files never collide.
 */
import type mysql from "mysql2/promise";
import { afterAll, beforeAll } from "vitest";
import { adminConn, uniqueDatabase } from "./test-support.js";

export function testDatabases(prefix: string) {
  const names: string[] = [];
  const scope = {
    admin: undefined as unknown as mysql.Connection,
    /** Creates a new, unique database and returns its name. */
    async fresh(): Promise<string> {
      const name = uniqueDatabase(prefix);
      names.push(name);
      await scope.admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
      return name;
    },
    async rows(sql: string, values?: unknown[]): Promise<any[]> {
      const [r] = await scope.admin.query(sql, values);
      return r as any[];
    },
  };
  beforeAll(async () => {
    scope.admin = await adminConn();
  });
  afterAll(async () => {
    for (const n of names) await scope.admin.query(`DROP DATABASE IF EXISTS \`${n}\``);
    await scope.admin.end();
  });
  return scope;
}

