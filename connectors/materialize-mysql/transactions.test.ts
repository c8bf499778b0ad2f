/** Loads and Stores against a real MariaDB: table contents are compared row by row. */
import { describe, expect, it } from "vitest";
import { ZERO_CHECKPOINT } from "../../src/sdk/types.js";
import { collection, ROOT } from "../../src/sql/test-fixtures.js";
import connector from "./connector.js";
import { applyRequest, checkpoint, ctx, endpointConfig, materialization, openRequest, readThrough, transaction, type BindingDesc } from "./test-support.js";
import { w, widgetBinding as sharedWidgetBinding } from "../../test/support/materialize-driver.js";
import { testDatabases } from "./test-databases.js";

const db = testDatabases("mmy");

const widgetBinding = (extra: Partial<BindingDesc> = {}): BindingDesc => sharedWidgetBinding(extra);

describe("materialize-mysql transactions", () => {
  it("creates, updates and soft-deletes in one transaction, loads what it stored, and recovers its checkpoint", async () => {
    const database = await db.fresh();
    const spec = materialization("acme/mat", endpointConfig(database), [widgetBinding()]);
    await connector.apply(applyRequest(spec), ctx());

    const first = await connector.open(openRequest(spec), ctx());
    expect(first.runtimeCheckpoint).toBe(ZERO_CHECKPOINT);
    expect(first.disableLoadOptimization).toBe(false);
    const t = first.transactor;
    await transaction(t, { stores: [w(1, "one"), w(2, "two"), w(3, "three")], checkpoint: checkpoint(10) });

    const loaded = await transaction(t, {
      loads: [{ keyJson: "[1]" }, { keyJson: "[2]" }, { keyJson: "[99]" }],
      stores: [{ ...w(1, "uno"), exists: true }, { ...w(2, "two", "d"), exists: true, delete: true }, w(4, "four"), { ...w(5, "five", "d"), delete: true }],
      checkpoint: checkpoint(20),
    });
    expect(loaded.sort().map(([b, doc]) => [b, JSON.parse(doc)])).toEqual([
      [0, { id: 1, name: "one", _meta: { op: "c" } }],
      [0, { id: 2, name: "two", _meta: { op: "c" } }],
    ]);
    expect(await db.rows(`SELECT id, name, \`_meta/op\` AS op FROM \`${database}\`.widgets ORDER BY id`)).toEqual([
      { id: "1", name: "uno", op: "c" },
      { id: "2", name: "two", op: "d" },
      { id: "3", name: "three", op: "c" },
      { id: "4", name: "four", op: "c" },
      { id: "5", name: "five", op: "d" },
    ]);
    await t.destroy!();

    const again = await connector.open(openRequest(spec), ctx());
    expect(readThrough(again.runtimeCheckpoint)).toBe(20);
    await again.transactor.destroy!();
  });

  it("removes hard-deleted rows and skips deletes of rows never stored", async () => {
    const database = await db.fresh();
    const spec = materialization("acme/mat", endpointConfig(database, { hardDelete: true }), [widgetBinding()]);
    await connector.apply(applyRequest(spec), ctx());
    const { transactor: t } = await connector.open(openRequest(spec), ctx());
    await transaction(t, { stores: [w(1, "one"), w(2, "two")], checkpoint: checkpoint(1) });
    await transaction(t, { stores: [{ ...w(1, "one", "d"), exists: true, delete: true }, { ...w(3, "x", "d"), delete: true }], checkpoint: checkpoint(2) });
    expect(await db.rows(`SELECT id FROM \`${database}\`.widgets ORDER BY id`)).toEqual([{ id: "2" }]);
    await t.destroy!();
  });

  it("appends every store to a delta-updates table, without a key constraint", async () => {
    const database = await db.fresh();
    const spec = materialization("acme/mat", endpointConfig(database), [widgetBinding({ resource: { table: "log", delta_updates: true } })]);
    await connector.apply(applyRequest(spec), ctx());
    const { transactor: t } = await connector.open(openRequest(spec), ctx());
    await transaction(t, { stores: [w(1, "a"), w(2, "b")], checkpoint: checkpoint(1) });
    await transaction(t, { stores: [w(1, "c")], checkpoint: checkpoint(2) });
    expect(await db.rows(`SELECT id, name FROM \`${database}\`.log ORDER BY id, name`)).toEqual([
      { id: "1", name: "a" },
      { id: "1", name: "c" },
      { id: "2", name: "b" },
    ]);
    await t.destroy!();
  });

  it("stores exact values of every mapped type, and values needing escapes byte for byte", async () => {
    const database = await db.fresh();
    const coll = collection("acme/types", [
      { field: "k", types: ["string"], key: true },
      { field: "big", types: ["integer"] },
      { field: "ubig", types: ["integer"], minimum: 0, maximum: 18446744073709551615 },
      { field: "huge", types: ["integer"], maximum: 1e30 },
      { field: "f", types: ["number"] },
      { field: "b", types: ["boolean"] },
      { field: "dec", types: ["string"], format: "number" },
      { field: "int_s", types: ["string"], format: "integer" },
      { field: "day", types: ["string"], format: "date" },
      { field: "at", types: ["string"], format: "date-time" },
      { field: "bin", types: ["string"], contentEncoding: "base64" },
      { field: "obj", types: ["object"] },
      { field: "multi", types: ["string", "integer"] },
      { field: "txt", types: ["string"] },
      ROOT,
    ]);
    const fields = ["big", "ubig", "huge", "f", "b", "dec", "int_s", "day", "at", "bin", "obj", "multi", "txt"];
    const spec = materialization("acme/types", endpointConfig(database), [
      { resource: { table: "types" }, collection: coll, keys: ["k"], values: fields, document: "flow_document" },
    ]);
    const applied = await connector.apply(applyRequest(spec), ctx());
    expect(applied.actionDescription).toContain("`ubig` BIGINT UNSIGNED");
    expect(applied.actionDescription).toContain("`huge` DECIMAL(65,0)");
    const nasty = "tab\there\nnew\\slash'quote\"dq\u0000nul ✓ 🐟";
    const values = [
      "-9223372036854775808",
      "18446744073709551615",
      "123456789012345678901234567890",
      "1.5e-7",
      "true",
      JSON.stringify("12345678901234567890.123456789012345678901234567891"),
      JSON.stringify("-99999999999999999999999999999"),
      JSON.stringify("2024-02-29"),
      JSON.stringify("2024-05-01T10:00:00.1234567+02:00"),
      JSON.stringify(Buffer.from([0, 9, 10, 92, 255]).toString("base64")),
      JSON.stringify({ a: [1, "x\ty"] }),
      "42",
      JSON.stringify(nasty),
    ];
    const { transactor: t } = await connector.open(openRequest(spec), ctx());
    await transaction(t, {
      stores: [
        { keyJson: JSON.stringify(["a"]), valuesJson: `[${values.join(",")}]`, docJson: "{}" },
        { keyJson: JSON.stringify(["A"]), valuesJson: `[${fields.map(() => "null").join(",")}]`, docJson: "{}" },
        { keyJson: JSON.stringify(["a "]), valuesJson: `[${fields.map(() => "null").join(",")}]`, docJson: "{}" },
      ],
      checkpoint: checkpoint(1),
    });
    const rows = await db.rows(
      `SELECT k, big, ubig, huge, f, b, \`dec\`, int_s, CAST(day AS CHAR) AS day, CAST(at AS CHAR) AS at, HEX(bin) AS bin, CAST(obj AS CHAR) AS obj, CAST(multi AS CHAR) AS multi, txt FROM \`${database}\`.types ORDER BY k`,
    );
    // Keys differing in case or trailing space are distinct rows.
    expect(rows.map((r) => r.k)).toEqual(["A", "a", "a "]);
    const a = rows[1];
    expect(a).toMatchObject({
      big: "-9223372036854775808",
      ubig: "18446744073709551615",
      huge: "123456789012345678901234567890",
      b: 1,
      dec: "12345678901234567890.123456789012345678901234567891",
      int_s: "-99999999999999999999999999999",
      day: "2024-02-29",
      at: "2024-05-01 08:00:00.123456",
      bin: "00090A5CFF",
      multi: "42",
      txt: nasty,
    });
    expect(a.f).toBeCloseTo(1.5e-7, 20);
    expect(JSON.parse(a.obj)).toEqual({ a: [1, "x\ty"] });
    await t.destroy!();
  });

  it("fails the transaction, committing nothing, when the server would alter a value (too long a key)", async () => {
    const database = await db.fresh();
    const coll = collection("acme/s", [{ field: "k", types: ["string"], key: true }, ROOT]);
    const spec = materialization("acme/s", endpointConfig(database), [{ resource: { table: "s" }, collection: coll, keys: ["k"], values: [], document: "flow_document" }]);
    await connector.apply(applyRequest(spec), ctx());
    const { transactor: t } = await connector.open(openRequest(spec), ctx());
    const secret = "s3cret".repeat(60);
    const err = await transaction(t, { stores: [{ keyJson: JSON.stringify([secret]), valuesJson: "[]", docJson: "{}" }], checkpoint: checkpoint(1) }).catch((e) => e);
    expect(String(err)).toMatch(/would have altered values: Warning (1265|1406): Data (truncated|too long) for column .k./);
    expect(String(err)).not.toContain("s3cret");
    expect(await db.rows(`SELECT COUNT(*) AS n FROM \`${database}\`.s`)).toEqual([{ n: "0" }]);
    await t.destroy!();
  });

  it("stages each transaction afresh: after a failed one, and for Loads of later transactions", async () => {
    const database = await db.fresh();
    const coll = collection("acme/s", [{ field: "k", types: ["string"], key: true }, ROOT]);
    const spec = materialization("acme/s", endpointConfig(database), [{ resource: { table: "s" }, collection: coll, keys: ["k"], values: [], document: "flow_document" }]);
    await connector.apply(applyRequest(spec), ctx());
    const { transactor: t } = await connector.open(openRequest(spec), ctx());
    const store = (k: string) => ({ keyJson: JSON.stringify([k]), valuesJson: "[]", docJson: JSON.stringify({ k }) });
    await transaction(t, { stores: [store("a"), store("b")], checkpoint: checkpoint(1) });
    // A staged row, then one the server would alter: the transaction fails and its staged rows go with it.
    const err = await transaction(t, { stores: [store("c"), store("x".repeat(600))], checkpoint: checkpoint(2) }).catch((e) => e);
    expect(String(err)).toMatch(/would have altered values/);
    await transaction(t, { stores: [store("d")], checkpoint: checkpoint(3) });
    expect(await db.rows(`SELECT k FROM \`${database}\`.s ORDER BY k`)).toEqual([{ k: "a" }, { k: "b" }, { k: "d" }]);
    const first = await transaction(t, { loads: [{ keyJson: '["a"]' }, { keyJson: '["b"]' }], checkpoint: checkpoint(4) });
    expect(first.map(([, doc]) => JSON.parse(doc).k).sort()).toEqual(["a", "b"]);
    const second = await transaction(t, { loads: [{ keyJson: '["d"]' }, { keyJson: '["zz"]' }], checkpoint: checkpoint(5) });
    expect(second.map(([, doc]) => JSON.parse(doc).k)).toEqual(["d"]);
    await t.destroy!();
  });

  it("empties a standard table in the transaction that stores its backfill's first rows", async () => {
    const database = await db.fresh();
    const spec = materialization("acme/mat", endpointConfig(database), [widgetBinding()]);
    await connector.apply(applyRequest(spec), ctx());
    const { transactor: t } = await connector.open(openRequest(spec), ctx());
    await transaction(t, { stores: [w(1, "one"), w(2, "two")], checkpoint: checkpoint(1) });
    await transaction(t, { stores: [w(3, "three")], backfillBegins: [0], checkpoint: checkpoint(2) });
    expect(await db.rows(`SELECT id FROM \`${database}\`.widgets ORDER BY id`)).toEqual([{ id: "3" }]);
    await transaction(t, { stores: [w(4, "four")], checkpoint: checkpoint(3) });
    expect(await db.rows(`SELECT id FROM \`${database}\`.widgets ORDER BY id`)).toEqual([{ id: "3" }, { id: "4" }]);
    await t.destroy!();
  });
});
