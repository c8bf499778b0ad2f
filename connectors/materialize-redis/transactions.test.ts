import { afterAll, afterEach, describe, expect, it } from "vitest";
import connector from "./connector.js";
import { withScripts } from "./scripts.js";
import { markerOf, type StagedTxn } from "./stage.js";
import { ChunkBuilder } from "./chunk.js";
import {
  ack,
  dropNamespace,
  durableState,
  flush,
  kindOf,
  load,
  loadedDocs,
  materialization,
  namespace,
  open,
  redis,
  snapshot,
  startCommit,
  stateUpdates,
  store,
  streamIds,
  session,
  endpoint,
  type BindingOpts,
} from "./test-support.js";

const r = redis();
const namespaces: string[] = [];
function ns(): string {
  const n = namespace();
  namespaces.push(n);
  return n;
}
afterEach(async () => {
  for (const n of namespaces.splice(0)) await dropNamespace(r, n);
});
afterAll(() => r.disconnect());

const ENTRY = "00000000-ffffffff";

/** Names (under `prefix`) of the stage lists that exist. */
async function stageLists(prefix: string): Promise<string[]> {
  const all = await snapshot(r, prefix);
  return Object.keys(all).filter((k) => typeof all[k] === "object" && all[k] !== null && "list" in (all[k] as object));
}
const HASH_VALUES = ["n", "name", "tags"];

/** The three transactions every crash test replays: inserts, then updates, deletes and inserts. */
function txns(ns: string) {
  const users = `${ns}:users`;
  const events = `${ns}:events`;
  const bindings: BindingOpts[] = [{ prefix: users }, { prefix: events, delta: true }, { prefix: `${ns}:h`, format: "hash" }];
  const spec = materialization(ns, bindings);
  const t1 = [
    flush(),
    store(0, { id: 1, name: "ann" }),
    store(0, { id: 2, name: "bob" }),
    store(0, { id: 3, name: "cy" }),
    store(1, { id: 1, name: "ann" }),
    store(1, { id: 2, name: "bob" }),
    store(2, { id: 7, name: "h7", n: 5, tags: ["a"] }, { values: HASH_VALUES }),
    startCommit(),
  ];
  const t2 = [
    load(0, 1),
    load(0, 2),
    load(0, 9),
    load(2, 7),
    flush(),
    store(0, { id: 1, name: "ann2" }, { exists: true }),
    store(0, { id: 2, name: "bob", _meta: { op: "d" } }, { exists: true, delete: true }),
    store(0, { id: 4, name: "dee" }),
    store(1, { id: 2, name: "bob2" }, { exists: true }),
    store(1, { id: 2, _meta: { op: "d" } }, { delete: true }),
    store(2, { id: 7, name: "h7b", n: null, tags: [] }, { exists: true, values: HASH_VALUES }),
    startCommit(),
  ];
  return { spec, users, events, hash: `${ns}:h`, t1, t2 };
}

const FINAL_USERS = {
  ":1": JSON.stringify({ id: 1, name: "ann2" }),
  ":3": JSON.stringify({ id: 3, name: "cy" }),
  ":4": JSON.stringify({ id: 4, name: "dee" }),
};
const FINAL_EVENTS = {
  "": [
    ["key", "[1]", "op", "c", "doc", JSON.stringify({ id: 1, name: "ann" })],
    ["key", "[2]", "op", "c", "doc", JSON.stringify({ id: 2, name: "bob" })],
    ["key", "[2]", "op", "u", "doc", JSON.stringify({ id: 2, name: "bob2" })],
    ["key", "[2]", "op", "d", "doc", JSON.stringify({ id: 2, _meta: { op: "d" } })],
  ],
};
const FINAL_HASH = { ":7": { flow_document: JSON.stringify({ id: 7, name: "h7b", n: null, tags: [] }), name: "h7b", tags: "[]" } };

async function expectFinal(t: ReturnType<typeof txns>) {
  expect(await snapshot(r, t.users)).toEqual(FINAL_USERS);
  expect(await snapshot(r, t.events)).toEqual(FINAL_EVENTS);
  expect(await snapshot(r, t.hash)).toEqual(FINAL_HASH);
}

describe("materialize-redis transactions (exactly once)", () => {
  it("stages without touching targets, applies at Acknowledge, and answers Loads from applied data", async () => {
    const n = ns();
    const t = txns(n);
    const { feed, sink, done, push } = session(connector);
    await push(open(t.spec), ack(), ...t.t1);
    await sink.waitFor(4);
    // StartedCommit describes the stage; nothing is in the target keys yet.
    const [started] = stateUpdates(sink.sent);
    const txn = (started!.updated as { pending: Record<string, StagedTxn> }).pending[ENTRY]!;
    expect(txn).toMatchObject({ records: 6, chunks: 3 });
    expect(txn.stage).toBe(`${n}:internal:stage:acme/${n}:${ENTRY}:${txn.stamp}`);
    expect(await snapshot(r, t.users)).toEqual({});
    expect(await snapshot(r, t.events)).toEqual({});
    expect(await r.llen(txn.stage)).toBe(3); // one list element per chunk of 2 records

    await push(ack(), ...t.t2, ack());
    feed.end();
    await done;
    expect(sink.sent.map(kindOf)).toEqual([
      "opened", "acknowledged", "flushed", "startedCommit",
      "acknowledged", "loaded", "loaded", "loaded", "flushed", "startedCommit", "acknowledged",
    ]);
    expect(loadedDocs(sink.sent).sort()).toEqual([
      [0, { id: 1, name: "ann" }],
      [0, { id: 2, name: "bob" }],
      [2, { id: 7, name: "h7", n: 5, tags: ["a"] }],
    ]);
    await expectFinal(t);
    // Stream ids are <stamp>-<record index>: deterministic per transaction.
    const ids = await streamIds(r, t.events);
    expect(ids[0]).toBe(`${txn.stamp}-3`);
    expect(ids[1]).toBe(`${txn.stamp}-4`);
    // Applied stages are removed with their markers, and the state is cleared.
    expect(await snapshot(r, `${n}:internal:stage`)).toEqual({});
    expect(durableState({}, sink.sent)).toEqual({ pending: {} });
  });

  it("sends no state update that changes nothing", async () => {
    const t = txns(ns());
    const { feed, sink, done, push } = session(connector);
    await push(open(t.spec), ack(), flush(), startCommit(), ack(), flush(), startCommit(), ack());
    feed.end();
    await done;
    expect(stateUpdates(sink.sent)).toEqual([]);
  });

  it("after a crash between StartedCommit and Acknowledge, the next session applies the stage exactly once", async () => {
    const n = ns();
    const t = txns(n);
    let state: unknown = {};
    // Session 1 commits t1 and dies before its Acknowledge.
    let s = session(connector);
    await s.push(open(t.spec, state), ack(), ...t.t1);
    await s.sink.waitFor(4);
    s.feed.end();
    await s.done;
    state = durableState(state, s.sink.sent);
    expect(await snapshot(r, t.users)).toEqual({});

    // Session 2 replays t1 at its first Acknowledge, runs t2, and dies
    // before t2's Acknowledge; its t1-clearing Acknowledged is lost too.
    s = session(connector);
    await s.push(open(t.spec, state), ack());
    await s.sink.waitFor(2);
    expect(JSON.parse(JSON.stringify(await snapshot(r, t.users)))).toEqual({
      ":1": JSON.stringify({ id: 1, name: "ann" }),
      ":2": JSON.stringify({ id: 2, name: "bob" }),
      ":3": JSON.stringify({ id: 3, name: "cy" }),
    });
    await s.push(...t.t2);
    await s.sink.waitFor(7); // 3 loaded, flushed, startedCommit
    s.feed.end();
    await s.done;
    state = durableState(state, s.sink.sent, false);

    // Session 3 replays t2; a duplicate Acknowledge changes nothing.
    s = session(connector);
    await s.push(open(t.spec, state), ack(), flush(), startCommit(), ack());
    s.feed.end();
    await s.done;
    await expectFinal(t);
    expect(durableState(state, s.sink.sent)).toEqual({ pending: {} });
  });

  it("resumes an apply that stopped after some chunks, without repeating them", async () => {
    const n = ns();
    const t = txns(n);
    let s = session(connector);
    await s.push(open(t.spec), ack(), ...t.t1);
    await s.sink.waitFor(4);
    s.feed.end();
    await s.done;
    const state = durableState({}, s.sink.sent) as { pending: Record<string, StagedTxn> };
    const txn = state.pending[ENTRY]!;

    // As if a session crashed after applying chunk 0 and 1 of 3.
    const scripted = withScripts(redis());
    expect(await scripted.flowApplyChunk(txn.stage, markerOf(txn.stage), 0, txn.stamp)).toBe(2);
    expect(await scripted.flowApplyChunk(txn.stage, markerOf(txn.stage), 1, txn.stamp)).toBe(2);
    // Repeating a chunk is a no-op; skipping one is refused.
    expect(await scripted.flowApplyChunk(txn.stage, markerOf(txn.stage), 1, txn.stamp)).toBe(0);
    scripted.disconnect();
    expect(Object.keys(await snapshot(r, t.users))).toEqual([":1", ":2", ":3"]);
    expect(await snapshot(r, t.events)).toEqual({ "": [FINAL_EVENTS[""][0]] });

    s = session(connector);
    await s.push(open(t.spec, state), ack(), ...t.t2, ack());
    s.feed.end();
    await s.done;
    await expectFinal(t);
  });

  it("refuses to apply a chunk whose predecessor was not applied", async () => {
    const n = ns();
    const scripted = withScripts(redis());
    const chunk = new ChunkBuilder(0);
    chunk.add("S", `${n}:a`, "1");
    const first = chunk.take();
    chunk.add("S", `${n}:b`, "2");
    await scripted.rpush(`${n}:stage`, first, chunk.take());
    await expect(scripted.flowApplyChunk(`${n}:stage`, markerOf(`${n}:stage`), 1, "5")).rejects.toThrow(/chunk 1 .* follows unapplied chunk 0/);
    expect(await r.exists(`${n}:b`)).toBe(0);
    expect(await scripted.flowApplyChunk(`${n}:stage`, markerOf(`${n}:stage`), 0, "5")).toBe(1);
    expect(await scripted.flowApplyChunk(`${n}:stage`, markerOf(`${n}:stage`), 1, "5")).toBe(1);
    expect(await r.mget(`${n}:a`, `${n}:b`)).toEqual(["1", "2"]);
    expect(await scripted.flowApplyChunk(`${n}:missing`, markerOf(`${n}:missing`), 0, "5")).toBe(-1);
    scripted.disconnect();
  });

  it("removes stages left by a session that failed before its commit, and keeps the pending one", async () => {
    const n = ns();
    const t = txns(n);
    // A failed session staged more than one RPUSH batch, then died before StartCommit.
    let s = session(connector);
    const many = Array.from({ length: 1200 }, (_, i) => store(0, { id: 100 + i }));
    await s.push(open(t.spec), ack(), flush(), ...many);
    const stages = `${n}:internal:stage`;
    for (let i = 0; i < 100 && (await stageLists(stages)).length === 0; i++) await new Promise((res) => setTimeout(res, 20));
    s.feed.end();
    await expect(s.done).rejects.toThrow(/ended after materialize.Request.Store/);
    const orphans = await stageLists(stages);
    expect(orphans).toHaveLength(1);
    expect(await r.smembers(`${n}:internal:stage:acme/${n}:${ENTRY}`)).toEqual([stages + orphans[0]]);

    // The next session removes the orphan when it opens, then commits t1
    // and dies before applying it.
    s = session(connector);
    await s.push(open(t.spec), ack(), ...t.t1);
    await s.sink.waitFor(4);
    s.feed.end();
    await s.done;
    const state = durableState({}, s.sink.sent) as { pending: Record<string, StagedTxn> };
    expect(await stageLists(stages)).toEqual([state.pending[ENTRY]!.stage.slice(stages.length)]);

    s = session(connector);
    await s.push(open(t.spec, state));
    await s.sink.waitFor(1);
    // Only the orphan is gone; the pending stage waits for its apply.
    expect(await stageLists(stages)).toEqual([state.pending[ENTRY]!.stage.slice(stages.length)]);
    await s.push(ack());
    s.feed.end();
    await s.done;
    expect(await snapshot(r, stages)).toEqual({});
    expect(Object.keys(await snapshot(r, t.users))).toEqual([":1", ":2", ":3"]);
  });

  it("sets TTLs, keeps soft-delete tombstones that Loads do not return", async () => {
    const n = ns();
    const spec = materialization(n, [{ prefix: `${n}:t`, ttl: 100 }, { prefix: `${n}:s`, softDelete: true }]);
    const { feed, sink, done, push } = session(connector);
    await push(open(spec), ack(), flush(), store(0, { id: 1 }), store(1, { id: 1, name: "x" }), startCommit());
    await push(ack(), load(1, 1), flush(), store(1, { id: 1, _meta: { op: "d" } }, { exists: true, delete: true }), startCommit());
    await push(ack(), load(1, 1), flush(), startCommit(), ack());
    feed.end();
    await done;
    const ttl = await r.ttl(`${n}:t:1`);
    expect(ttl).toBeGreaterThan(90);
    expect(ttl).toBeLessThanOrEqual(100);
    expect(await r.get(`${n}:s:1`)).toBe(JSON.stringify({ id: 1, _meta: { op: "d" } }));
    // Loaded once (before the delete), not after.
    expect(loadedDocs(sink.sent)).toEqual([[1, { id: 1, name: "x" }]]);
  });

  it("escapes key components so that distinct keys never share a name", async () => {
    const n = ns();
    const spec = materialization(n, [{ prefix: `${n}:k` }]);
    const enc = new TextEncoder();
    const raw = (keyJson: string) => ({ store: { binding: 0, keyJson: enc.encode(keyJson), valuesJson: enc.encode("[]"), docJson: enc.encode(`{"k":${keyJson}}`) } });
    const { req } = await import("./test-support.js");
    const { feed, done, push } = session(connector);
    await push(open(spec), ack(), flush(), req(raw('["a:b"]')), req(raw('["a","b"]')), req(raw('["x\\\\"]')), req(raw("[12345678901234567890]")), startCommit(), ack());
    feed.end();
    await done;
    expect(Object.keys(await snapshot(r, `${n}:k`)).sort()).toEqual([":12345678901234567890", ":a:b", ":a\\:b", ":x\\\\"]);
  });
});

describe("materialize-redis Open", () => {
  it("refuses a standard binding without a document field, which Loads need", async () => {
    const n = ns();
    const s = session(connector);
    await s.push(open(materialization(n, [{ prefix: `${n}:x`, document: "" }])));
    s.feed.end();
    await expect(s.done).rejects.toThrow(`binding with prefix "${n}:x" selects no document field, which standard updates need to answer Loads`);
  });
});

describe("materialize-redis Apply", () => {
  it("drains pending work before changing anything, then deletes a backfilled binding's keys", async () => {
    const n = ns();
    const t = txns(n);
    const s = session(connector);
    await s.push(open(t.spec), ack(), ...t.t1);
    await s.sink.waitFor(4);
    s.feed.end();
    await s.done;
    let state = durableState({}, s.sink.sent);

    const backfilled = materialization(n, [{ prefix: t.users, backfill: 1 }, { prefix: t.events, delta: true }, { prefix: t.hash, format: "hash" }]);
    const apply = async () => {
      const a = session(connector);
      await a.push(req({ apply: { materialization: backfilled, lastMaterialization: t.spec, version: "v2", stateJson: new TextEncoder().encode(JSON.stringify(state)) } }));
      a.feed.end();
      await a.done;
      return a.sink.sent[0]!.applied!;
    };
    const { req } = await import("./test-support.js");

    const first = await apply();
    expect(first.actionDescription).toMatch(/applied 1 pending staged transaction before making changes/);
    // Applied, not deleted: the first Apply only drained.
    expect(Object.keys(await snapshot(r, t.users))).toEqual([":1", ":2", ":3"]);
    state = durableState(state, [{ applied: first } as never]);
    expect(state).toEqual({ pending: {} });

    const second = await apply();
    expect(second.state).toBeUndefined();
    expect(second.actionDescription).toBe(`deleted 3 keys under prefix ${JSON.stringify(t.users)} because the binding is backfilled`);
    expect(await snapshot(r, t.users)).toEqual({});
    expect((await snapshot(r, t.events))[""]).toHaveLength(2); // untouched
  });
});

describe("materialize-redis at-least-once delivery", () => {
  it("writes targets during Store, keeps no state, and re-runs append again", async () => {
    const n = ns();
    const spec = materialization(
      n,
      [{ prefix: `${n}:u` }, { prefix: `${n}:e`, delta: true }, { prefix: `${n}:h`, format: "hash" }],
      endpoint(n, { delivery: "at_least_once" }),
    );
    const txn = [flush(), store(0, { id: 1, name: "a" }), store(1, { id: 1, name: "a" }), store(2, { id: 1, name: "a", n: 3 }, { values: HASH_VALUES }), startCommit()];
    for (let i = 0; i < 2; i++) {
      const s = session(connector);
      await s.push(open(spec), ack(), ...txn);
      await s.sink.waitFor(4);
      expect(await r.get(`${n}:u:1`)).toBe(JSON.stringify({ id: 1, name: "a" })); // before any Acknowledge
      s.feed.end();
      await s.done;
      expect(stateUpdates(s.sink.sent)).toEqual([]);
    }
    expect((await snapshot(r, `${n}:e`))[""]).toHaveLength(2); // the re-run transaction was appended twice
    expect(await r.hgetall(`${n}:h:1`)).toEqual({ n: "3", name: "a", flow_document: JSON.stringify({ id: 1, name: "a", n: 3 }) });
  });

  it("keeps record order across chunks of plain SETs (MSET) and other chunks (the script)", async () => {
    const n = ns();
    const spec = materialization(n, [{ prefix: `${n}:u` }], endpoint(n, { delivery: "at_least_once" }));
    const s = session(connector);
    // chunk_records is 2: [S 1, S 2] goes as MSET, [D 1, S 3] through the script, [S 1, S 2] as MSET again.
    await s.push(
      open(spec),
      ack(),
      flush(),
      store(0, { id: 1, name: "a" }),
      store(0, { id: 2, name: "a" }),
      store(0, { id: 1 }, { delete: true, exists: true }),
      store(0, { id: 3, name: "a" }),
      store(0, { id: 1, name: "b" }),
      store(0, { id: 2, name: "b" }),
      startCommit(),
    );
    await s.sink.waitFor(4);
    s.feed.end();
    await s.done;
    expect(await r.mget(`${n}:u:1`, `${n}:u:2`, `${n}:u:3`)).toEqual([
      JSON.stringify({ id: 1, name: "b" }),
      JSON.stringify({ id: 2, name: "b" }),
      JSON.stringify({ id: 3, name: "a" }),
    ]);
  });
});

describe("materialize-redis delta updates in hash format", () => {
  it("appends the key, the action and the selected fields, leaving out nulls", async () => {
    const n = ns();
    const spec = materialization(n, [{ prefix: `${n}:d`, delta: true, format: "hash", document: "" }]);
    const { feed, done, push } = session(connector);
    await push(
      open(spec),
      ack(),
      flush(),
      store(0, { id: 1, name: "a", n: null, tags: ["x"] }, { values: HASH_VALUES }),
      store(0, { id: 1, name: "b", n: 2, tags: [], _meta: { op: "u" } }, { values: HASH_VALUES }),
      startCommit(),
      ack(),
    );
    feed.end();
    await done;
    expect((await snapshot(r, `${n}:d`))[""]).toEqual([
      ["key", "[1]", "op", "c", "name", "a", "tags", '["x"]'],
      ["key", "[1]", "op", "u", "n", "2", "name", "b", "tags", "[]"],
    ]);
  });
});

describe("materialize-redis stream ids", () => {
  it("skips an entry whose id exists, and refuses to drop one when another writer went past it", async () => {
    const n = ns();
    const scripted = withScripts(redis());
    const chunk = new ChunkBuilder(0);
    chunk.add("X", `${n}:s`, JSON.stringify(["key", "[1]", "op", "c"]));
    await scripted.rpush(`${n}:stage`, chunk.take());
    await r.xadd(`${n}:s`, "5-0", "key", "[1]", "op", "c"); // as if applied before the marker was lost
    expect(await scripted.flowApplyChunk(`${n}:stage`, markerOf(`${n}:stage`), 0, "5")).toBe(1);
    expect(await streamIds(r, `${n}:s`)).toEqual(["5-0"]);

    await r.xadd(`${n}:t`, "9-0", "other", "writer");
    const c2 = new ChunkBuilder(0);
    c2.add("X", `${n}:t`, JSON.stringify(["key", "[1]", "op", "c"]));
    await scripted.rpush(`${n}:stage2`, c2.take());
    await expect(scripted.flowApplyChunk(`${n}:stage2`, markerOf(`${n}:stage2`), 0, "5")).rejects.toThrow(/XADD .*:t 5-0: ERR The ID specified in XADD is equal or smaller/);
    scripted.disconnect();
  });
});
