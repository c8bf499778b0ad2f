/** Validate and Apply against a real MariaDB as a collection's schema evolves. */
import { describe, expect, it } from "vitest";
import { ConstraintType } from "../../src/sdk/types.js";
import { collection, ROOT, type ProjectionDesc } from "../../src/sql/test-fixtures.js";
import connector from "./connector.js";
import { applyRequest, checkpoint, ctx, endpointConfig, materialization, openRequest, transaction, type BindingDesc } from "./test-support.js";
import { testDatabases } from "./test-databases.js";
import { validateRequest } from "../../test/support/materialize-driver.js";

const db = testDatabases("apply");

async function columns(database: string, table: string) {
  const rows = await db.rows(
    `SELECT column_name AS c, column_type AS t, is_nullable AS n FROM information_schema.columns WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position`,
    [database, table],
  );
  return rows.map((x) => `${x.c} ${x.t}${x.n === "NO" ? " not null" : ""}`);
}

const v1: ProjectionDesc[] = [
  { field: "id", types: ["integer"], key: true },
  { field: "qty", types: ["integer"], must: true },
  { field: "label", types: ["string"], must: true },
  ROOT,
];
const items = (extra: Partial<BindingDesc> = {}): BindingDesc => ({
  resource: { table: "items" },
  collection: collection("acme/items", v1),
  keys: ["id"],
  values: ["qty", "label"],
  document: "flow_document",
  ...extra,
});

describe("Validate and Apply", () => {
  it("creates everything once, then is a no-op with an empty description", async () => {
    const database = await db.fresh();
    const spec = materialization("acme/mat", endpointConfig(database), [items()]);
    const validated = await connector.validate(validateRequest(endpointConfig(database), [items()]), ctx());
    expect(validated[0]!.resourcePath).toEqual(["items"]);
    expect(validated[0]!.constraints.id!.type).toBe(ConstraintType.LOCATION_REQUIRED);

    const first = await connector.apply(applyRequest(spec), ctx());
    expect(first.actionDescription).toMatch(/^CREATE TABLE IF NOT EXISTS `flow_checkpoints_v1`/);
    expect(await columns(database, "items")).toEqual(["id bigint(20) not null", "qty bigint(20) not null", "label longtext not null", "flow_document longtext not null"]);
    const second = await connector.apply(applyRequest(spec, spec), ctx());
    expect(second.actionDescription).toBe("");
  });

  it("adds fields, relaxes a field that stops being required, widens a type, and reports an incompatible change", async () => {
    const database = await db.fresh();
    const b1 = items();
    const spec1 = materialization("acme/mat", endpointConfig(database), [b1]);
    await connector.apply(applyRequest(spec1), ctx());
    const open1 = await connector.open(openRequest(spec1), ctx());
    await transaction(open1.transactor, { stores: [{ keyJson: "[1]", valuesJson: '[5,"five"]', docJson: '{"id":1}' }], checkpoint: checkpoint(1) });
    await open1.transactor.destroy!();

    const v2: ProjectionDesc[] = [
      { field: "id", types: ["integer"], key: true },
      { field: "qty", types: ["number"], must: true },
      { field: "label", types: ["string", "null"] },
      { field: "added", types: ["boolean"] },
      ROOT,
    ];
    const b2: BindingDesc = { ...b1, collection: collection("acme/items", v2), values: ["qty", "label", "added"] };
    const validated = await connector.validate(validateRequest(endpointConfig(database), [b2], spec1), ctx());
    expect(validated[0]!.constraints.qty!.type).toBe(ConstraintType.LOCATION_RECOMMENDED);
    expect(validated[0]!.constraints.id!.type).toBe(ConstraintType.FIELD_REQUIRED);
    expect(validated[0]!.constraints.added!.type).toBe(ConstraintType.LOCATION_RECOMMENDED);

    const spec2 = materialization("acme/mat", endpointConfig(database), [b2]);
    const applied = await connector.apply(applyRequest(spec2, spec1), ctx());
    expect(applied.actionDescription.split("\n")).toEqual([
      "ALTER TABLE `items` MODIFY COLUMN `qty` DOUBLE NOT NULL;",
      "ALTER TABLE `items` MODIFY COLUMN `label` longtext COLLATE utf8mb4_nopad_bin NULL;",
      "ALTER TABLE `items` ADD COLUMN `added` BOOLEAN;",
    ]);
    expect(await columns(database, "items")).toEqual(["id bigint(20) not null", "qty double not null", "label longtext", "flow_document longtext not null", "added tinyint(1)"]);
    expect(await db.rows(`SELECT qty, label FROM \`${database}\`.items`)).toEqual([{ qty: 5, label: "five" }]);

    const v3 = v2.map((p) => (p.field === "label" ? { ...p, types: ["integer"] } : p));
    const b3: BindingDesc = { ...b2, collection: collection("acme/items", v3) };
    const bad = await connector.validate(validateRequest(endpointConfig(database), [b3], spec2), ctx());
    expect(bad[0]!.constraints.label!.type).toBe(ConstraintType.INCOMPATIBLE);
    expect(bad[0]!.constraints.label!.reason).toContain('"LONGTEXT"');
    expect(bad[0]!.constraints.label!.reason).toContain('"BIGINT"');

    const b4: BindingDesc = { ...b3, backfill: 1 };
    const spec4 = materialization("acme/mat", endpointConfig(database), [b4]);
    const recreated = await connector.apply(applyRequest(spec4, spec2), ctx());
    expect(recreated.actionDescription).toMatch(/^DROP TABLE IF EXISTS `items`;\nCREATE TABLE/);
    expect(await db.rows(`SELECT COUNT(*) AS n FROM \`${database}\`.items`)).toEqual([{ n: "0" }]);
  });

  it("cuts names to 64 characters, compares column names without case, and forbids fields MySQL cannot name", async () => {
    const database = await db.fresh();
    const long = "x".repeat(70);
    const coll = collection("acme/names", [
      { field: "id", types: ["integer"], key: true },
      { field: long, types: ["string"] },
      { field: long + "y", types: ["string"] },
      { field: "Name", types: ["string"] },
      { field: "name", types: ["string"] },
      { field: "fish🐟", types: ["string"] },
      { field: "trailing ", types: ["string"] },
      { field: "a`b", types: ["string"] },
      ROOT,
    ]);
    const b: BindingDesc = { resource: { table: "t".repeat(70) }, collection: coll, keys: ["id"], values: [long, "Name", "a`b"], document: "flow_document" };
    const validated = await connector.validate(validateRequest(endpointConfig(database), [b]), ctx());
    const c = validated[0]!.constraints;
    expect(validated[0]!.resourcePath).toEqual(["t".repeat(64)]);
    expect(c[long]).toMatchObject({ type: ConstraintType.LOCATION_RECOMMENDED, foldedField: "x".repeat(64) });
    expect(c[long + "y"]!.type).toBe(ConstraintType.FIELD_FORBIDDEN);
    expect(c.name!.type).toBe(ConstraintType.FIELD_FORBIDDEN);
    expect(c.name!.reason).toContain("compared without case");
    expect(c["fish🐟"]!.type).toBe(ConstraintType.FIELD_FORBIDDEN);
    expect(c["trailing "]!.type).toBe(ConstraintType.FIELD_FORBIDDEN);
    expect(c["a`b"]!.type).toBe(ConstraintType.LOCATION_RECOMMENDED);

    const spec = materialization("acme/mat", endpointConfig(database), [b]);
    await connector.apply(applyRequest(spec), ctx());
    expect(await columns(database, "t".repeat(64))).toEqual(["id bigint(20) not null", `${"x".repeat(64)} longtext`, "Name longtext", "a`b longtext", "flow_document longtext not null"]);
    const { transactor } = await connector.open(openRequest(spec), ctx());
    await transaction(transactor, { stores: [{ keyJson: "[1]", valuesJson: '["l","n","q"]', docJson: "{}" }], checkpoint: checkpoint(1) });
    await transactor.destroy!();
    expect(await db.rows(`SELECT \`Name\` AS n, \`a\`\`b\` AS q FROM \`${database}\`.\`${"t".repeat(64)}\``)).toEqual([{ n: "n", q: "q" }]);

    // A table created with another spelling of a column's case is the same column, not a new one.
    await db.admin.query(`CREATE TABLE \`${database}\`.existing (ID BIGINT NOT NULL PRIMARY KEY, QTY BIGINT NOT NULL, LABEL LONGTEXT NOT NULL, FLOW_DOCUMENT JSON NOT NULL)`);
    const e = items({ resource: { table: "existing" } });
    const ev = await connector.validate(validateRequest(endpointConfig(database), [e]), ctx());
    expect(ev[0]!.constraints.qty!.type).toBe(ConstraintType.LOCATION_RECOMMENDED);
    const eSpec = materialization("acme/mat", endpointConfig(database), [e]);
    expect((await connector.apply(applyRequest(eSpec), ctx())).actionDescription).toBe("");
    // A table this connector did not create makes the runtime load every key.
    const opened = await connector.open(openRequest(eSpec), ctx());
    expect(opened.disableLoadOptimization).toBe(true);
    await opened.transactor.destroy!();
  });

  it("refuses two bindings that name one table, and a table MySQL cannot name", async () => {
    const database = await db.fresh();
    const srv = await db.rows("SELECT @@lower_case_table_names AS l");
    const bindings = [items(), items({ resource: { table: Number(srv[0].l) === 0 ? "items" : "ITEMS" } })];
    await expect(connector.validate(validateRequest(endpointConfig(database), bindings), ctx())).rejects.toThrow(/are the same table on this server/);
    await expect(connector.validate(validateRequest(endpointConfig(database), [items({ resource: { table: "bad " } })]), ctx())).rejects.toThrow(
      /"table" "bad ": MySQL identifiers cannot end with a space/,
    );
  });

  it("refuses to switch a delta-updates binding to standard updates", async () => {
    const database = await db.fresh();
    const b = items({ resource: { table: "log", delta_updates: true } });
    const spec1 = materialization("acme/mat", endpointConfig(database), [b]);
    await connector.apply(applyRequest(spec1), ctx());
    await expect(connector.validate(validateRequest(endpointConfig(database), [{ ...b, resource: { table: "log" } }], spec1), ctx())).rejects.toThrow(
      /delta updates and cannot switch to standard/,
    );
  });
});
