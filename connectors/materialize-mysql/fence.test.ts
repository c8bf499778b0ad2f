/** Fencing of sessions by key range, against a real MariaDB. */
import { beforeAll, describe, expect, it } from "vitest";
import { ZERO_CHECKPOINT } from "../../src/sdk/types.js";
import { collection, ROOT } from "../../src/sql/test-fixtures.js";
import connector from "./connector.js";
import { applyRequest, checkpoint, ctx, endpointConfig, materialization, openRequest, readThrough, transaction } from "./test-support.js";
import { testDatabases } from "./test-databases.js";

const db = testDatabases("fence");
let database: string;
const coll = collection("acme/things", [{ field: "id", types: ["integer"], key: true }, { field: "v", types: ["string"] }, ROOT]);
const spec = () =>
  materialization("acme/fenced", endpointConfig(database), [{ resource: { table: "things" }, collection: coll, keys: ["id"], values: ["v"], document: "flow_document" }]);
const store = (id: number, v: string) => ({ keyJson: `[${id}]`, valuesJson: JSON.stringify([v]), docJson: JSON.stringify({ id, v }) });
const MID = 0x7fffffff;

beforeAll(async () => {
  database = await db.fresh();
  await connector.apply(applyRequest(spec()), ctx());
});

async function fenceRows() {
  const rows = await db.rows(`SELECT key_begin AS b, key_end AS e, fence AS f FROM \`${database}\`.flow_checkpoints_v1 ORDER BY key_begin, key_end`);
  return rows.map((x) => [Number(x.b), Number(x.e), Number(x.f)]);
}
const clear = () => db.admin.query(`DELETE FROM \`${database}\`.flow_checkpoints_v1`);

describe("fencing", () => {
  it("fences off a zombie session on the same range, which then cannot commit", async () => {
    await clear();
    const a = await connector.open(openRequest(spec()), ctx());
    expect(a.runtimeCheckpoint).toBe(ZERO_CHECKPOINT);
    await transaction(a.transactor, { stores: [store(1, "a1")], checkpoint: checkpoint(1) });
    // Committing the same checkpoint again still matches the fence row (rows matched, not changed).
    await transaction(a.transactor, { stores: [store(1, "a1")], checkpoint: checkpoint(1) });

    const b = await connector.open(openRequest(spec()), ctx());
    expect(readThrough(b.runtimeCheckpoint)).toBe(1);

    await expect(transaction(a.transactor, { stores: [store(2, "zombie")], checkpoint: checkpoint(2) })).rejects.toThrow(/fenced off/);
    await transaction(b.transactor, { stores: [store(3, "b1")], checkpoint: checkpoint(3) });
    const rows = await db.rows(`SELECT id FROM \`${database}\`.things ORDER BY id`);
    expect(rows.map((r) => Number(r.id))).toEqual([1, 3]);
    await a.transactor.destroy!();
    await b.transactor.destroy!();
  });

  it("lets split children opened at the same moment both claim their halves (a deadlock between their claims is run again)", async () => {
    // InnoDB can pick one of two concurrent claims as a deadlock victim (both lock the parent's row and the gaps
    // around the children's rows); the claim is then run again, so both sessions open. Several rounds, since
    // whether the two collide depends on timing.
    for (let round = 0; round < 8; round++) {
      await clear();
      const parent = await connector.open(openRequest(spec()), ctx());
      await transaction(parent.transactor, { stores: [store(20 + round, "p")], checkpoint: checkpoint(7) });
      await parent.transactor.destroy!();
      const [left, right] = await Promise.all([
        connector.open(openRequest(spec(), 0, MID), ctx()),
        connector.open(openRequest(spec(), MID + 1, 0xffffffff), ctx()),
      ]);
      expect(readThrough(left.runtimeCheckpoint)).toBe(7);
      expect(readThrough(right.runtimeCheckpoint)).toBe(7);
      expect((await fenceRows()).map(([b, e]) => [b, e])).toEqual([
        [0, MID],
        [0, 0xffffffff],
        [MID + 1, 0xffffffff],
      ]);
      await left.transactor.destroy!();
      await right.transactor.destroy!();
    }
    await db.admin.query(`DELETE FROM \`${database}\`.things`);
  });

  it("forks split children from their parent, fences the parent, and merges children that agree", async () => {
    await clear();
    const parent = await connector.open(openRequest(spec()), ctx());
    await transaction(parent.transactor, { stores: [store(10, "p")], checkpoint: checkpoint(5) });

    const left = await connector.open(openRequest(spec(), 0, MID), ctx());
    const right = await connector.open(openRequest(spec(), MID + 1, 0xffffffff), ctx());
    expect(readThrough(left.runtimeCheckpoint)).toBe(5);
    expect(readThrough(right.runtimeCheckpoint)).toBe(5);
    expect((await fenceRows()).map(([b, e]) => [b, e])).toEqual([
      [0, MID],
      [0, 0xffffffff],
      [MID + 1, 0xffffffff],
    ]);

    await expect(transaction(parent.transactor, { stores: [store(11, "zombie parent")], checkpoint: checkpoint(6) })).rejects.toThrow(/fenced off/);
    await transaction(left.transactor, { stores: [store(12, "l")], checkpoint: checkpoint(7) });
    await transaction(right.transactor, { stores: [store(13, "r")], checkpoint: checkpoint(7) });

    const merged = await connector.open(openRequest(spec()), ctx());
    expect(readThrough(merged.runtimeCheckpoint)).toBe(7);
    expect((await fenceRows()).map(([b, e]) => [b, e])).toEqual([[0, 0xffffffff]]);
    await expect(transaction(left.transactor, { stores: [store(14, "x")], checkpoint: checkpoint(8) })).rejects.toThrow(/fenced off/);
    await transaction(merged.transactor, { stores: [store(16, "m")], checkpoint: checkpoint(10) });

    const again = await connector.open(openRequest(spec(), 0, MID), ctx());
    expect(readThrough(again.runtimeCheckpoint)).toBe(10);

    const rows = await db.rows(`SELECT id FROM \`${database}\`.things WHERE id >= 10 ORDER BY id`);
    expect(rows.map((r) => Number(r.id))).toEqual([10, 12, 13, 16]);
    for (const s of [parent, left, right, merged, again]) await s.transactor.destroy!();
  });

  it("refuses to merge or straddle ranges whose sessions stopped at different checkpoints", async () => {
    await clear();
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
