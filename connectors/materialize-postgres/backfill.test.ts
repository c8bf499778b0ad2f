/** A binding's backfill begin, as the newest runtime sends it in Flush, against a real PostgreSQL. */
import { describe, expect, it } from "vitest";
import { collection, ROOT } from "../../src/sql/test-fixtures.js";
import connector from "./connector.js";
import { applyRequest, checkpoint, ctx, endpointConfig, materialization, openRequest, transaction, type BindingDesc } from "./test-support.js";
import { testSchemas } from "./test-schemas.js";

const db = testSchemas("mpgbf");

const widgets = collection("acme/widgets", [
  { field: "id", types: ["integer"], key: true },
  { field: "name", types: ["string"] },
  ROOT,
]);
const binding = (table: string, delta = false): BindingDesc => ({
  resource: { table, delta_updates: delta },
  collection: widgets,
  keys: ["id"],
  values: ["name"],
  document: delta ? "" : "flow_document",
});
const w = (id: number, name: string) => ({ keyJson: `[${id}]`, valuesJson: JSON.stringify([name]), docJson: JSON.stringify({ id, name }) });

describe("materialize-postgres on a backfill begin", () => {
  it("empties a standard binding's table in the transaction that stores the refill, and keeps delta tables", async () => {
    const schema = db.fresh();
    const spec = materialization("acme/mat", endpointConfig(schema), [binding("std"), binding("hist", true)]);
    await connector.apply(applyRequest(spec), ctx());
    const t = (await connector.open(openRequest(spec), ctx())).transactor;
    const both = (rows: ReturnType<typeof w>[]) => [...rows, ...rows.map((r) => ({ ...r, binding: 1 }))];
    await transaction(t, { stores: both([w(1, "one"), w(2, "two"), w(3, "three")]), checkpoint: checkpoint(1) });

    // The source is captured again: row 2 no longer exists there.
    await t.flush!({ statePatches: "", backfillBegins: [{ binding: 0 }, { binding: 1 }], backfillCompletes: [] });
    await transaction(t, { stores: both([{ ...w(1, "uno"), exists: true } as never, w(3, "tres")]), checkpoint: checkpoint(2) });

    const std = await db.admin.query(`SELECT id, name FROM "${schema}".std ORDER BY id`);
    expect(std.rows).toEqual([
      { id: "1", name: "uno" },
      { id: "3", name: "tres" },
    ]);
    const hist = await db.admin.query(`SELECT id, name FROM "${schema}".hist ORDER BY id, name`);
    expect(hist.rows.map((r) => `${r.id} ${r.name}`)).toEqual(["1 one", "1 uno", "2 two", "3 three", "3 tres"]);

    // Only once: the next transaction merges as usual.
    await transaction(t, { stores: [w(4, "four")], checkpoint: checkpoint(3) });
    expect((await db.admin.query(`SELECT count(*)::int AS n FROM "${schema}".std`)).rows[0].n).toBe(3);
    await t.destroy!();
  });

  it("leaves the table untouched when the transaction that would empty it fails", async () => {
    const schema = db.fresh();
    const spec = materialization("acme/mat", endpointConfig(schema), [binding("std")]);
    await connector.apply(applyRequest(spec), ctx());
    const t = (await connector.open(openRequest(spec), ctx())).transactor;
    await transaction(t, { stores: [w(1, "one")], checkpoint: checkpoint(1) });
    await t.flush!({ statePatches: "", backfillBegins: [{ binding: 0 }], backfillCompletes: [] });
    await expect(transaction(t, { stores: [{ keyJson: "[1]", valuesJson: "not json" }], checkpoint: checkpoint(2) })).rejects.toThrow();
    expect((await db.admin.query(`SELECT name FROM "${schema}".std`)).rows).toEqual([{ name: "one" }]);
    await t.destroy!();
  });
});
