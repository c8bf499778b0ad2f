/**
 * Hostile field names and schema descriptions against a role whose default
 * is standard_conforming_strings = off, where a backslash escapes a quote in
 * a plain literal: Apply and Store must neither run injected SQL nor alter
 * the text they write.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collection, ROOT } from "../../src/sql/test-fixtures.js";
import connector from "./connector.js";
import { applyRequest, checkpoint, ctx, endpointConfig, materialization, openRequest, transaction } from "./test-support.js";
import { testSchemas } from "./test-schemas.js";

const db = testSchemas("inject");
const role = `mpg_scs_off_${process.pid}`;

describe("SQL injection with standard_conforming_strings = off", () => {
  beforeAll(async () => {
    await db.admin.query(`DROP ROLE IF EXISTS ${role}`);
    // A superuser, so that an injected DROP TABLE would succeed if it ever ran.
    await db.admin.query(`CREATE ROLE ${role} LOGIN SUPERUSER`);
    await db.admin.query(`ALTER ROLE ${role} SET standard_conforming_strings = off`);
  });
  afterAll(async () => {
    // The role owns what it created: drop that first (the schema goes with the file's other schemas).
    await db.admin.query(`DROP OWNED BY ${role}`);
    await db.admin.query(`DROP ROLE IF EXISTS ${role}`);
  });

  it("keeps the sentinel table and writes names, comments and values exactly", async () => {
    const schema = db.fresh();
    await db.admin.query(`CREATE SCHEMA ${schema}`);
    await db.admin.query(`CREATE TABLE ${schema}.sentinel (x int)`);
    await db.admin.query(`ALTER TABLE ${schema}.sentinel OWNER TO ${role}`);

    const hostile = `\\'; DROP TABLE ${schema}.sentinel; --`;
    const wide = `\u00c1${hostile}`;
    const coll = collection("acme/hostile", [
      { field: "id", types: ["integer"], key: true },
      { field: hostile, types: ["string"], must: true, description: `desc ${hostile}` },
      { field: "wide", types: ["string"], must: true, description: wide },
      ROOT,
    ]);
    const config = endpointConfig(schema, { user: role });
    const spec = materialization("acme/mat", config, [
      { resource: { table: "t" }, collection: coll, keys: ["id"], values: [hostile, "wide"], document: "flow_document" },
    ]);
    await connector.apply(applyRequest(spec), ctx());
    const opened = await connector.open(openRequest(spec), ctx());
    const doc = JSON.stringify({ id: 1, [hostile]: hostile, wide });
    await transaction(opened.transactor, { stores: [{ keyJson: "[1]", valuesJson: JSON.stringify([hostile, wide]), docJson: doc }], checkpoint: checkpoint(1) });
    await opened.transactor.destroy!();

    const sentinel = await db.admin.query(`SELECT to_regclass($1) AS t`, [`${schema}.sentinel`]);
    expect(sentinel.rows[0].t).not.toBeNull();
    const comment = await db.admin.query(
      `SELECT col_description(a.attrelid, a.attnum) AS c FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attname = $2`,
      [`${schema}.t`, hostile],
    );
    expect(comment.rows).toEqual([{ c: `desc ${hostile}\nauto-generated projection of JSON at: /${hostile} with inferred types: [string]` }]);
    const wideComment = await db.admin.query(`SELECT col_description($1::regclass, 3) AS c`, [`${schema}.t`]);
    expect(wideComment.rows).toEqual([{ c: `${wide}\nauto-generated projection of JSON at: /wide with inferred types: [string]` }]);
    const rows = await db.admin.query(`SELECT id, "${hostile.replace(/"/g, '""')}" AS v, wide, flow_document::text AS d FROM ${schema}.t`);
    expect(rows.rows).toEqual([{ id: "1", v: hostile, wide, d: doc }]);
  });
});
