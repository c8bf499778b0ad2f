/** Fencing of sessions by key range, against a real PostgreSQL. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type pg from "pg";
import { ZERO_CHECKPOINT } from "../../src/sdk/types.js";
import { collection, ROOT } from "../../src/sql/test-fixtures.js";
import connector from "./connector.js";
import { adminClient, applyRequest, checkpoint, ctx, endpointConfig, materialization, openRequest, readThrough, transaction, uniqueSchema } from "./test-support.js";

let admin: pg.Client;
let schema: string;
const coll = collection("acme/things", [{ field: "id", types: ["integer"], key: true }, { field: "v", types: ["string"] }, ROOT]);
const spec = () =>
  materialization("acme/fenced", endpointConfig(schema), [{ resource: { table: "things" }, collection: coll, keys: ["id"], values: ["v"], document: "flow_document" }]);
const store = (id: number, v: string) => ({ keyJson: `[${id}]`, valuesJson: JSON.stringify([v]), docJson: JSON.stringify({ id, v }) });
const MID = 0x7fffffff;

beforeAll(async () => {
  admin = await adminClient();
  schema = uniqueSchema("fence");
  await connector.apply(applyRequest(spec()), ctx());
});
afterAll(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

async function fenceRows() {
  const r = await admin.query(`SELECT key_begin::bigint AS b, key_end::bigint AS e, fence::int AS f FROM "${schema}".flow_checkpoints_v1 ORDER BY key_begin, key_end`);
  return r.rows.map((x) => [Number(x.b), Number(x.e), x.f]);
}

describe("fencing", () => {
  it("fences off a zombie session on the same range, which then cannot commit", async () => {
    await admin.query(`DELETE FROM "${schema}".flow_checkpoints_v1`);
    const a = await connector.open(openRequest(spec()), ctx());
    expect(a.runtimeCheckpoint).toBe(ZERO_CHECKPOINT);
    await transaction(a.transactor, { stores: [store(1, "a1")], checkpoint: checkpoint(1) });

    const b = await connector.open(openRequest(spec()), ctx());
    expect(readThrough(b.runtimeCheckpoint)).toBe(1);

    await expect(transaction(a.transactor, { stores: [store(2, "zombie")], checkpoint: checkpoint(2) })).rejects.toThrow(/fenced off/);
    await transaction(b.transactor, { stores: [store(3, "b1")], checkpoint: checkpoint(3) });
    const rows = await admin.query(`SELECT id FROM "${schema}".things ORDER BY id`);
    expect(rows.rows.map((r) => Number(r.id))).toEqual([1, 3]);
    await a.transactor.destroy!();
    await b.transactor.destroy!();
  });

  it("forks split children from their parent, fences the parent, and merges children that agree", async () => {
    await admin.query(`DELETE FROM "${schema}".flow_checkpoints_v1`);
    const parent = await connector.open(openRequest(spec()), ctx());
    await transaction(parent.transactor, { stores: [store(10, "p")], checkpoint: checkpoint(5) });

    const left = await connector.open(openRequest(spec(), 0, MID), ctx());
    const right = await connector.open(openRequest(spec(), MID + 1, 0xffffffff), ctx());
    expect(readThrough(left.runtimeCheckpoint)).toBe(5);
    expect(readThrough(right.runtimeCheckpoint)).toBe(5);
    expect(await fenceRows()).toEqual([
      [0, MID, 3],
      [0, 0xffffffff, 3],
      [MID + 1, 0xffffffff, 4],
    ]);

    await expect(transaction(parent.transactor, { stores: [store(11, "zombie parent")], checkpoint: checkpoint(6) })).rejects.toThrow(/fenced off/);
    await transaction(left.transactor, { stores: [store(12, "l")], checkpoint: checkpoint(7) });
    await transaction(right.transactor, { stores: [store(13, "r")], checkpoint: checkpoint(7) });

    // Merging back: the children (newer than the parent row) agree on 7.
    const merged = await connector.open(openRequest(spec()), ctx());
    expect(readThrough(merged.runtimeCheckpoint)).toBe(7);
    expect((await fenceRows()).map(([b, e]) => [b, e])).toEqual([[0, 0xffffffff]]);
    await expect(transaction(left.transactor, { stores: [store(14, "x")], checkpoint: checkpoint(8) })).rejects.toThrow(/fenced off/);
    await transaction(merged.transactor, { stores: [store(16, "m")], checkpoint: checkpoint(10) });

    // Splitting again forks from the merged row.
    const again = await connector.open(openRequest(spec(), 0, MID), ctx());
    expect(readThrough(again.runtimeCheckpoint)).toBe(10);

    const rows = await admin.query(`SELECT id FROM "${schema}".things WHERE id >= 10 ORDER BY id`);
    expect(rows.rows.map((r) => Number(r.id))).toEqual([10, 12, 13, 16]);
    for (const s of [parent, left, right, merged, again]) await s.transactor.destroy!();
  });

  it("refuses to merge or straddle ranges whose sessions stopped at different checkpoints", async () => {
    await admin.query(`DELETE FROM "${schema}".flow_checkpoints_v1`);
    const parent = await connector.open(openRequest(spec()), ctx());
    await transaction(parent.transactor, { stores: [store(20, "p")], checkpoint: checkpoint(5) });
    const left = await connector.open(openRequest(spec(), 0, MID), ctx());
    const right = await connector.open(openRequest(spec(), MID + 1, 0xffffffff), ctx());
    await transaction(left.transactor, { stores: [store(21, "l")], checkpoint: checkpoint(7) });
    await transaction(right.transactor, { stores: [store(22, "r")], checkpoint: checkpoint(8) });

    await expect(connector.open(openRequest(spec()), ctx())).rejects.toThrow(/stopped at different checkpoints \(at key 00000000 and at key 80000000\)/);
    await expect(connector.open(openRequest(spec(), 0x40000000, 0xbfffffff), ctx())).rejects.toThrow(/stopped at different checkpoints/);
    // A refused session takes nothing over: its fence bumps roll back, so the running sessions keep going.
    await expect(transaction(left.transactor, { stores: [store(23, "l")], checkpoint: checkpoint(9) })).resolves.toBeDefined();
    for (const s of [parent, left, right]) await s.transactor.destroy!();
  });
});
