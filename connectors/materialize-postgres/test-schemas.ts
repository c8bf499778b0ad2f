/**
 * For a test file: an admin connection opened before its tests, and every
 * schema it names dropped after them, so runs leave nothing behind.
 */
import { afterAll, beforeAll } from "vitest";
import type pg from "pg";
import { adminClient, uniqueSchema } from "./test-support.js";

export function testSchemas(prefix: string) {
  const names: string[] = [];
  const scope = {
    admin: undefined as unknown as pg.Client,
    /** A new, unique schema name, dropped after the file's tests. */
    fresh(): string {
      return scope.track(uniqueSchema(prefix));
    },
    /** Drops `schema` after the file's tests. */
    track(schema: string): string {
      names.push(schema);
      return schema;
    },
  };
  beforeAll(async () => {
    scope.admin = await adminClient();
  });
  afterAll(async () => {
    for (const s of names) await scope.admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await scope.admin.end();
  });
  return scope;
}
