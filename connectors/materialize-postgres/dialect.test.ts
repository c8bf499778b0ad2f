/** Type mapping, Validate constraints and Apply plans with the PostgreSQL dialect (no database needed). */
import { describe, expect, it } from "vitest";
import { ConstraintType } from "../../src/sdk/types.js";
import { planTable } from "../../src/sql/apply-plan.js";
import { isForbidden, type ExistingTable } from "../../src/sql/dialect.js";
import { flatType } from "../../src/sql/flat-type.js";
import { buildTable } from "../../src/sql/table.js";
import { collection, ROOT, specBinding, type ProjectionDesc } from "../../src/sql/test-fixtures.js";
import { validateBinding } from "../../src/sql/validate.js";
import { pgDdl, pgDialect } from "./dialect.js";

function ddlOf(p: ProjectionDesc, isKey = false): string {
  const coll = collection("c", [p]);
  const proj = coll.projections[0]!;
  const m = pgDialect.mapType(proj, flatType(proj, isKey), { isKey, isDocument: proj.ptr === "" });
  return isForbidden(m) ? `forbidden: ${m.forbidden}` : m.ddl + (m.notNull ? " NOT NULL" : "");
}

describe("PostgreSQL type mapping", () => {
  it("maps every flat type", () => {
    expect(ddlOf({ field: "i", types: ["integer"], must: true })).toBe("BIGINT NOT NULL");
    expect(ddlOf({ field: "i", types: ["integer", "null"], must: true })).toBe("BIGINT");
    expect(ddlOf({ field: "i", types: ["integer"], maximum: 1e20 })).toBe("NUMERIC");
    expect(ddlOf({ field: "n", types: ["number"] })).toBe("DOUBLE PRECISION");
    expect(ddlOf({ field: "n", types: ["integer", "number"] })).toBe("DOUBLE PRECISION");
    expect(ddlOf({ field: "b", types: ["boolean"] })).toBe("BOOLEAN");
    expect(ddlOf({ field: "s", types: ["string"] })).toBe("TEXT");
    expect(ddlOf({ field: "s", types: ["string"], format: "date" })).toBe("DATE");
    expect(ddlOf({ field: "s", types: ["string"], format: "date-time" })).toBe("TIMESTAMPTZ");
    expect(ddlOf({ field: "s", types: ["string"], format: "time" })).toBe("TIME");
    expect(ddlOf({ field: "s", types: ["string"], format: "uuid" })).toBe("UUID");
    expect(ddlOf({ field: "s", types: ["string"], format: "duration" })).toBe("INTERVAL");
    expect(ddlOf({ field: "s", types: ["string"], format: "ipv4" })).toBe("INET");
    expect(ddlOf({ field: "s", types: ["string"], format: "ipv6" })).toBe("INET");
    expect(ddlOf({ field: "s", types: ["string"], format: "macaddr" })).toBe("MACADDR");
    expect(ddlOf({ field: "s", types: ["string"], format: "integer" })).toBe("NUMERIC");
    expect(ddlOf({ field: "s", types: ["string", "number"], format: "number" })).toBe("NUMERIC");
    expect(ddlOf({ field: "s", types: ["string"], contentEncoding: "base64" })).toBe("BYTEA");
    expect(ddlOf({ field: "o", types: ["object"] })).toBe("JSON");
    expect(ddlOf({ field: "a", types: ["array"] })).toBe("JSON");
    expect(ddlOf({ field: "m", types: ["string", "integer"] })).toBe("JSON");
    expect(ddlOf({ field: "m", types: ["string", "integer"], key: true }, true)).toBe("JSONB NOT NULL");
    expect(ddlOf(ROOT)).toBe("JSON NOT NULL");
    expect(ddlOf({ field: "z", types: ["null"] })).toMatch(/^forbidden/);
  });

  it("knows which changes PostgreSQL casts in place", () => {
    const m = (p: ProjectionDesc) => {
      const proj = collection("c", [p]).projections[0]!;
      const r = pgDialect.mapType(proj, flatType(proj), { isKey: false, isDocument: false });
      if (isForbidden(r)) throw new Error("forbidden");
      return r;
    };
    expect(pgDialect.migration("bigint", m({ field: "n", types: ["number"] }), "x")).toBe("x::double precision");
    expect(pgDialect.migration("bigint", m({ field: "s", types: ["string"] }), "x")).toBe("x::text");
    expect(pgDialect.migration("boolean", m({ field: "m", types: ["boolean", "string"] }), "x")).toBe("to_json(x)");
    expect(pgDialect.migration("text", m({ field: "i", types: ["integer"] }), "x")).toBeUndefined();
  });
});

const orders = collection("acme/orders", [
  { field: "id", types: ["integer"], key: true },
  { field: "name", types: ["string"] },
  { field: "price", types: ["number"] },
  { field: "tags", types: ["array"] },
  { field: "details", types: ["object"] },
  { field: "_meta/op", types: ["string"] },
  { field: "_meta/uuid", types: ["string"], format: "uuid" },
  { field: "nothing", types: ["null"] },
  ROOT,
  { field: "doc_again", ptr: "", types: ["object"], must: true },
]);

function existing(cols: Array<[string, string, boolean]>): ExistingTable {
  return { path: ["public", "orders"], columns: new Map(cols.map(([name, type, nullable]) => [name, { name, type, nullable }])) };
}

describe("Validate constraints", () => {
  const types = (r: Record<string, { type: ConstraintType }>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, ConstraintType[v.type]]));

  it("gives the base opinion for a new standard table", () => {
    const r = validateBinding({ collection: orders, deltaUpdates: false, existing: null, backfill: 0, tableName: "public.orders" }, pgDialect);
    expect(types(r)).toEqual({
      id: "LOCATION_REQUIRED",
      name: "LOCATION_RECOMMENDED",
      price: "LOCATION_RECOMMENDED",
      tags: "LOCATION_RECOMMENDED",
      details: "FIELD_OPTIONAL",
      "_meta/op": "LOCATION_RECOMMENDED",
      "_meta/uuid": "FIELD_OPTIONAL",
      nothing: "FIELD_FORBIDDEN",
      flow_document: "LOCATION_REQUIRED",
      doc_again: "FIELD_FORBIDDEN",
    });
  });

  it("only recommends keys and the document for delta updates", () => {
    const r = validateBinding({ collection: orders, deltaUpdates: true, existing: null, backfill: 0, tableName: "t" }, pgDialect);
    expect(r.id!.type).toBe(ConstraintType.LOCATION_RECOMMENDED);
    expect(r.flow_document!.type).toBe(ConstraintType.LOCATION_RECOMMENDED);
  });

  it("checks an existing table's columns", () => {
    const last = specBinding({ path: ["public", "orders"], collection: orders, keys: ["id"], values: ["name", "price"], document: "flow_document" });
    const ex = existing([
      ["id", "bigint", false],
      ["name", "text", true],
      ["price", "boolean", true],
      ["flow_document", "json", false],
    ]);
    const r = validateBinding({ collection: orders, deltaUpdates: false, existing: ex, last, backfill: 0, tableName: "public.orders" }, pgDialect);
    expect(r.id!.type).toBe(ConstraintType.FIELD_REQUIRED);
    expect(r.name!.type).toBe(ConstraintType.LOCATION_RECOMMENDED);
    expect(r.price!.type).toBe(ConstraintType.INCOMPATIBLE);
    expect(r.price!.reason).toContain('"BOOLEAN"');
    expect(r.price!.reason).toContain('"DOUBLE PRECISION"');
    expect(r.flow_document!.type).toBe(ConstraintType.FIELD_REQUIRED);
    expect(r.tags!.type).toBe(ConstraintType.LOCATION_RECOMMENDED);

    // A bumped backfill counter validates as a new table.
    const again = validateBinding({ collection: orders, deltaUpdates: false, existing: ex, last, backfill: 1, tableName: "public.orders" }, pgDialect);
    expect(again.price!.type).toBe(ConstraintType.LOCATION_RECOMMENDED);
  });

  it("refuses delta → standard and nullable keys", () => {
    const last = specBinding({ path: ["public", "orders"], collection: orders, keys: ["id"], values: [], document: "flow_document", delta: true });
    expect(() => validateBinding({ collection: orders, deltaUpdates: false, existing: null, last, backfill: 0, tableName: "public.orders" }, pgDialect)).toThrow(
      /delta updates and cannot switch to standard/,
    );
    const nullableKey = collection("c", [{ field: "id", types: ["string", "null"], key: true }, ROOT]);
    nullableKey.projections[0]!.inference!.exists = 2;
    expect(() => validateBinding({ collection: nullableKey, deltaUpdates: false, existing: null, backfill: 0, tableName: "public.c" }, pgDialect)).toThrow(
      /key field "id" .* may be null/,
    );
  });

  it("reports folded names and forbids a second field folding to the same column", () => {
    const a = "f".repeat(70);
    const b = "f".repeat(63) + "_other";
    const c = collection("c", [{ field: "id", types: ["integer"], key: true }, { field: a, types: ["string"] }, { field: b, types: ["string"] }, ROOT]);
    const r = validateBinding({ collection: c, deltaUpdates: false, existing: null, backfill: 0, tableName: "t" }, pgDialect);
    expect(r[a]!.foldedField).toBe("f".repeat(63));
    expect(r[a]!.type).toBe(ConstraintType.LOCATION_RECOMMENDED);
    expect(r[b]!.type).toBe(ConstraintType.FIELD_FORBIDDEN);
    expect(r[b]!.reason).toContain("same as field");
    expect(r.id!.foldedField).toBeUndefined();
  });
});

describe("Apply plans", () => {
  const sel = { path: ["public", "orders"], collection: orders, keys: ["id"], values: ["name", "price", "_meta/op"], document: "flow_document", deltaUpdates: false };

  it("creates a new table with a primary key and comments", () => {
    const table = buildTable(sel, pgDialect);
    const sql = planTable({ table, existing: null, backfill: 0 }, pgDialect, pgDdl);
    expect(sql[0]).toBe(
      'CREATE TABLE IF NOT EXISTS public.orders (\n  id BIGINT NOT NULL,\n  name TEXT,\n  price DOUBLE PRECISION,\n  "_meta/op" TEXT,\n  flow_document JSON NOT NULL,\n  PRIMARY KEY (id)\n)',
    );
    expect(sql[1]).toMatch(/^COMMENT ON TABLE public.orders IS E'Materialized by Tributary/);
    expect(sql.slice(2).every((s) => s.startsWith("COMMENT ON COLUMN public.orders."))).toBe(true);
    const delta = planTable({ table: buildTable({ ...sel, deltaUpdates: true }, pgDialect), existing: null, backfill: 0 }, pgDialect, pgDdl);
    expect(delta[0]).not.toContain("PRIMARY KEY");
  });

  it("adds columns, drops NOT NULL, widens types, and does nothing when up to date", () => {
    const table = buildTable(sel, pgDialect);
    const ex = existing([
      ["id", "bigint", false],
      ["name", "text", false],
      ["price", "bigint", true],
      ["flow_document", "json", false],
      ["legacy", "text", false],
    ]);
    expect(planTable({ table, existing: ex, backfill: 0 }, pgDialect, pgDdl)).toEqual([
      "ALTER TABLE public.orders ALTER COLUMN name DROP NOT NULL",
      "ALTER TABLE public.orders ALTER COLUMN price TYPE DOUBLE PRECISION USING price::double precision",
      'ALTER TABLE public.orders ADD COLUMN "_meta/op" TEXT',
      "ALTER TABLE public.orders ALTER COLUMN legacy DROP NOT NULL",
    ]);
    const upToDate = existing([
      ["id", "bigint", false],
      ["name", "text", true],
      ["price", "double precision", true],
      ["_meta/op", "text", true],
      ["flow_document", "json", false],
    ]);
    expect(planTable({ table, existing: upToDate, backfill: 0 }, pgDialect, pgDdl)).toEqual([]);
  });

  it("truncates on a bumped backfill counter, or re-creates when the key changed", () => {
    const table = buildTable(sel, pgDialect);
    const ex = existing([
      ["id", "bigint", false],
      ["name", "text", true],
      ["price", "double precision", true],
      ["_meta/op", "text", true],
      ["flow_document", "json", false],
    ]);
    const last = specBinding({ path: sel.path, collection: orders, keys: ["id"], values: ["name"], document: "flow_document", backfill: 0 });
    expect(planTable({ table, existing: ex, last, backfill: 1 }, pgDialect, pgDdl)).toEqual(["TRUNCATE TABLE public.orders"]);
    const otherKey = specBinding({ path: sel.path, collection: orders, keys: ["name"], values: [], document: "flow_document", backfill: 0 });
    const sql = planTable({ table, existing: ex, last: otherKey, backfill: 1 }, pgDialect, pgDdl);
    expect(sql[0]).toBe("DROP TABLE IF EXISTS public.orders");
    expect(sql[1]).toMatch(/^CREATE TABLE/);
  });

  it("refuses two selected fields that fold to one column", () => {
    const a = "g".repeat(64);
    const b = "g".repeat(65);
    const c = collection("c", [{ field: "id", types: ["integer"], key: true }, { field: a, types: ["string"] }, { field: b, types: ["string"] }, ROOT]);
    expect(() => buildTable({ path: ["public", "c"], collection: c, keys: ["id"], values: [a, b], document: "flow_document", deltaUpdates: false }, pgDialect)).toThrow(
      /both become column/,
    );
  });
});
