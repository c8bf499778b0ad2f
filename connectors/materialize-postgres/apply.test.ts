/** Validate and Apply against a real PostgreSQL as a collection's schema evolves. */
import { describe, expect, it } from "vitest";
import { ConstraintType } from "../../src/sdk/types.js";
import { collection, ROOT, type ProjectionDesc } from "../../src/sql/test-fixtures.js";
import connector from "./connector.js";
import { applyRequest, checkpoint, ctx, endpointConfig, materialization, openRequest, transaction, type BindingDesc } from "./test-support.js";
import { testSchemas } from "./test-schemas.js";
import { validateRequest } from "../../test/support/materialize-driver.js";

const db = testSchemas("apply");

async function columns(schema: string, table: string) {
  const r = await db.admin.query(
    `SELECT column_name AS c, data_type AS t, is_nullable AS n FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
    [schema, table],
  );
  return r.rows.map((x) => `${x.c} ${x.t}${x.n === "NO" ? " not null" : ""}`);
}

const v1: ProjectionDesc[] = [
  { field: "id", types: ["integer"], key: true },
  { field: "qty", types: ["integer"], must: true },
  { field: "label", types: ["string"], must: true },
  ROOT,
];

describe("Validate and Apply", () => {
  it("creates everything once, then is a no-op with an empty description", async () => {
    const schema = db.fresh();
    const binding: BindingDesc = { resource: { table: "items" }, collection: collection("acme/items", v1), keys: ["id"], values: ["qty", "label"], document: "flow_document" };
    const spec = materialization("acme/mat", endpointConfig(schema), [binding]);

    const validated = await connector.validate(validateRequest(endpointConfig(schema), [binding]), ctx());
    expect(validated[0]!.resourcePath).toEqual([schema, "items"]);
    expect(validated[0]!.constraints.id!.type).toBe(ConstraintType.LOCATION_REQUIRED);

    const first = await connector.apply(applyRequest(spec), ctx());
    expect(first.actionDescription).toMatch(/^CREATE SCHEMA IF NOT EXISTS/);
    expect(first.actionDescription).toContain("flow_checkpoints_v1");
    expect(await columns(schema, "items")).toEqual(["id bigint not null", "qty bigint not null", "label text not null", "flow_document json not null"]);
    const second = await connector.apply(applyRequest(spec, spec), ctx());
    expect(second.actionDescription).toBe("");
  });

  it("adds fields, relaxes a field that stops being required, widens a type, and reports an incompatible change", async () => {
    const schema = db.fresh();
    const b1: BindingDesc = { resource: { table: "items" }, collection: collection("acme/items", v1), keys: ["id"], values: ["qty", "label"], document: "flow_document" };
    const spec1 = materialization("acme/mat", endpointConfig(schema), [b1]);
    await connector.apply(applyRequest(spec1), ctx());
    const open1 = await connector.open(openRequest(spec1), ctx());
    await transaction(open1.transactor, { stores: [{ keyJson: "[1]", valuesJson: '[5,"five"]', docJson: '{"id":1}' }], checkpoint: checkpoint(1) });
    await open1.transactor.destroy!();

    // qty becomes a number (widening), label optional, and a new field appears.
    const v2: ProjectionDesc[] = [
      { field: "id", types: ["integer"], key: true },
      { field: "qty", types: ["number"], must: true },
      { field: "label", types: ["string", "null"] },
      { field: "added", types: ["boolean"] },
      ROOT,
    ];
    const b2: BindingDesc = { ...b1, collection: collection("acme/items", v2), values: ["qty", "label", "added"] };
    const validated = await connector.validate(validateRequest(endpointConfig(schema), [b2], spec1), ctx());
    expect(validated[0]!.constraints.qty!.type).toBe(ConstraintType.LOCATION_RECOMMENDED);
    expect(validated[0]!.constraints.id!.type).toBe(ConstraintType.FIELD_REQUIRED);
    expect(validated[0]!.constraints.added!.type).toBe(ConstraintType.LOCATION_RECOMMENDED);

    const spec2 = materialization("acme/mat", endpointConfig(schema), [b2]);
    const applied = await connector.apply(applyRequest(spec2, spec1), ctx());
    expect(applied.actionDescription.split("\n")).toEqual([
      `ALTER TABLE ${schema}.items ALTER COLUMN qty TYPE DOUBLE PRECISION USING qty::double precision;`,
      `ALTER TABLE ${schema}.items ALTER COLUMN label DROP NOT NULL;`,
      `ALTER TABLE ${schema}.items ADD COLUMN added BOOLEAN;`,
    ]);
    expect(await columns(schema, "items")).toEqual([
      "id bigint not null",
      "qty double precision not null",
      "label text",
      "flow_document json not null",
      "added boolean",
    ]);
    expect((await db.admin.query(`SELECT qty FROM "${schema}".items`)).rows).toEqual([{ qty: 5 }]);

    // label turning into an integer cannot be cast in place.
    const v3 = v2.map((p) => (p.field === "label" ? { ...p, types: ["integer"] } : p));
    const b3: BindingDesc = { ...b2, collection: collection("acme/items", v3) };
    const bad = await connector.validate(validateRequest(endpointConfig(schema), [b3], spec2), ctx());
    expect(bad[0]!.constraints.label!.type).toBe(ConstraintType.INCOMPATIBLE);
    expect(bad[0]!.constraints.label!.reason).toContain('"TEXT"');
    expect(bad[0]!.constraints.label!.reason).toContain('"BIGINT"');

    // ...unless the binding is backfilled, which truncates (keys unchanged) or re-creates the table.
    const b4: BindingDesc = { ...b3, backfill: 1 };
    const ok = await connector.validate(validateRequest(endpointConfig(schema), [b4], spec2), ctx());
    expect(ok[0]!.constraints.label!.type).toBe(ConstraintType.LOCATION_RECOMMENDED);
    const spec4 = materialization("acme/mat", endpointConfig(schema), [b4]);
    const recreated = await connector.apply(applyRequest(spec4, spec2), ctx());
    expect(recreated.actionDescription).toMatch(new RegExp(`^DROP TABLE IF EXISTS ${schema}.items;\nCREATE TABLE`));
    expect((await db.admin.query(`SELECT count(*)::int AS n FROM "${schema}".items`)).rows[0].n).toBe(0);
  });

  it("truncates on a backfill when the table still fits", async () => {
    const schema = db.fresh();
    const b: BindingDesc = { resource: { table: "items" }, collection: collection("acme/items", v1), keys: ["id"], values: ["qty", "label"], document: "flow_document" };
    const spec1 = materialization("acme/mat", endpointConfig(schema), [b]);
    await connector.apply(applyRequest(spec1), ctx());
    await db.admin.query(`INSERT INTO "${schema}".items VALUES (1, 1, 'x', '{}')`);
    const spec2 = materialization("acme/mat", endpointConfig(schema), [{ ...b, backfill: 1 }]);
    const applied = await connector.apply(applyRequest(spec2, spec1), ctx());
    expect(applied.actionDescription).toBe(`TRUNCATE TABLE ${schema}.items;`);
    expect((await db.admin.query(`SELECT count(*)::int AS n FROM "${schema}".items`)).rows[0].n).toBe(0);
  });

  it("refuses to switch a delta-updates binding to standard updates", async () => {
    const schema = db.fresh();
    const b: BindingDesc = { resource: { table: "log", delta_updates: true }, collection: collection("acme/items", v1), keys: ["id"], values: ["qty"], document: "flow_document" };
    const spec1 = materialization("acme/mat", endpointConfig(schema), [b]);
    await connector.apply(applyRequest(spec1), ctx());
    const standard = { ...b, resource: { table: "log" } };
    await expect(connector.validate(validateRequest(endpointConfig(schema), [standard], spec1), ctx())).rejects.toThrow(/delta updates and cannot switch to standard/);
  });

  it("refuses two tables whose names are one after the 63-byte cut, naming both bindings", async () => {
    const schema = db.fresh();
    const long = "t".repeat(63);
    const a: BindingDesc = { resource: { table: long + "_orders" }, collection: collection("acme/orders", v1), keys: ["id"], values: [], document: "flow_document" };
    const b: BindingDesc = { resource: { table: long + "_refunds" }, collection: collection("acme/refunds", v1), keys: ["id"], values: [], document: "flow_document" };
    const err = await connector.validate(validateRequest(endpointConfig(schema), [a, b]), ctx()).then(
      () => undefined,
      (e: Error) => e.message,
    );
    expect(err).toContain(`binding 0 (collection acme/orders, table "${schema}.${long}_orders")`);
    expect(err).toContain(`binding 1 (collection acme/refunds, table "${schema}.${long}_refunds")`);
    expect(err).toContain(`both become table ${schema}.${long}: PostgreSQL cuts names to 63 bytes`);
    // Distinct after the cut: accepted.
    const c: BindingDesc = { ...b, resource: { table: "refunds" } };
    await expect(connector.validate(validateRequest(endpointConfig(schema), [a, c]), ctx())).resolves.toHaveLength(2);
  });
});
