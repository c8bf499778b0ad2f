import { describe, expect, it } from "vitest";
import { epochSink } from "../../src/sdk/sink-connector.js";
import { rangeEntry } from "../../src/sdk/staged.js";
import { applyStateUpdate } from "../../src/sdk/state.js";
import type { Epoch, SinkBatch, SinkCommit } from "../../src/sdk/sink.js";
import type { LoadRequest } from "../../src/sdk/types.js";
import { ack, applyReq, durableState, flush, load, loadedDocs, openReq, session, sinkSpec, startCommit, stateUpdates, store, FULL } from "../support/sink-session.js";

const ENTRY = rangeEntry(FULL);
const dec = new TextDecoder();

type Work = { stage: string };

/**
 * A key-value destination with a staging area that outlives sessions:
 * writeBatch stages under the epoch id, preCommit names the stage, and
 * commitEpoch copies it to the target (repeatable) and drops it.
 */
class Store {
  staged = new Map<string, Array<[string, string]>>();
  target = new Map<string, string>();
  events: string[] = [];
  altered = 0;
  applyGate?: Promise<void>;

  connector() {
    const st = this;
    return epochSink<Record<string, never>, { name: string }>({
      name: "memory-kv",
      documentationUrl: "",
      configSchema: { type: "object" },
      resourceConfigSchema: { type: "object", properties: { name: { type: "string" } } },
      capabilities: () => ({ delivery: "exactly-once-idempotent", operations: ["upsert", "delta"] }),
      resourcePath: (res) => [res.name],
      async apply() {
        st.altered++;
        return { actionDescription: "altered" };
      },
      async open() {
        return {
          async load(keys: LoadRequest[], loaded: (b: number, doc: unknown) => void | Promise<void>) {
            st.events.push(`load ${keys.map((k) => k.keyJson).join(" ")}`);
            for (const k of keys) {
              const doc = st.target.get(k.keyJson);
              if (doc) await loaded(k.binding, JSON.parse(doc));
            }
          },
          async writeBatch(b: SinkBatch, e: Epoch) {
            const rows = st.staged.get(e.id) ?? [];
            rows.push(...b.stores.map((s): [string, string] => [s.keyJson, s.docJson]));
            st.staged.set(e.id, rows);
          },
          async preCommit(e: Epoch): Promise<Work | undefined> {
            return st.staged.has(e.id) ? { stage: e.id } : undefined;
          },
          async commitEpoch(e: Epoch, c: SinkCommit<unknown>) {
            await st.applyGate;
            const w = c.pending as Work;
            const rows = st.staged.get(w.stage);
            st.events.push(`${c.recovered ? "recovered " : ""}apply ${w.stage === e.id ? "own" : "other"} ${rows ? rows.length : "gone"}`);
            for (const [k, v] of rows ?? []) st.target.set(k, v);
            st.staged.delete(w.stage);
          },
        };
      },
    });
  }
}

describe("sink layer, exactly-once-idempotent", () => {
  it("stages at Store, commits the description with StartedCommit, applies it at Acknowledge and clears it", async () => {
    const st = new Store();
    const { feed, sink, done } = session(st.connector());
    feed.push(openReq(sinkSpec(false)), ack(), flush(), store(1, "a"), store(2, "b"), startCommit(1));
    await sink.waitFor(4);
    expect(st.target.size).toBe(0); // nothing reaches the target before Acknowledge
    const [started] = stateUpdates(sink.sent);
    const id = [...st.staged.keys()][0]!;
    expect(started).toEqual({
      kind: "startedCommit",
      updated: { pending: { [ENTRY]: { epoch: id, work: { stage: id } } }, sinkEpochs: { [ENTRY]: expect.stringMatching(/^[0-9a-f]{32}$/) } },
      mergePatch: true,
    });
    feed.push(ack(), load(1), flush());
    await sink.waitFor(7);
    expect(st.events).toEqual(["apply own 2", "load [1]"]);
    expect(loadedDocs(sink.sent)).toEqual([{ id: 1, v: "a" }]);
    expect(stateUpdates(sink.sent)[1]).toEqual({ kind: "acknowledged", updated: { pending: { [ENTRY]: null } }, mergePatch: true });
    feed.push(startCommit(2));
    feed.end();
    await done;
    expect(st.staged.size).toBe(0);
  });

  it("holds Loads until the previous epoch is applied", async () => {
    const st = new Store();
    const { feed, sink, done } = session(st.connector());
    feed.push(openReq(sinkSpec(false)), ack(), flush(), store(1, "a"), startCommit(1));
    await sink.waitFor(4);
    let release!: () => void;
    st.applyGate = new Promise<void>((r) => (release = r));
    feed.push(ack(), load(1));
    await new Promise((r) => setTimeout(r, 50));
    expect(st.events).toEqual([]);
    release();
    feed.push(flush());
    await sink.waitFor(7);
    expect(st.events).toEqual(["apply own 1", "load [1]"]);
    feed.push(startCommit(2));
    feed.end();
    await done;
  });

  it("re-applies a committed epoch after a crash before Acknowledge, flagged as recovered", async () => {
    const st = new Store();
    const spec = sinkSpec(false);
    const first = session(st.connector());
    first.feed.push(openReq(spec), ack(), flush(), store(1, "a"), startCommit(1));
    await first.sink.waitFor(4);
    first.feed.end();
    await first.done;
    const state = durableState({}, first.sink.sent);

    const second = session(st.connector());
    second.feed.push(openReq(spec, state), ack());
    await second.sink.waitFor(2);
    second.feed.end();
    await second.done;
    expect(st.events).toEqual(["recovered apply own 1"]);
    expect(st.target.get("[1]")).toBe('{"id":1,"v":"a"}');
  });

  it("a replayed epoch (its commit never reached the log) stages under the same id", async () => {
    const st = new Store();
    const spec = sinkSpec(false);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const s = session(st.connector());
      s.feed.push(openReq(spec), ack(), flush(), store(1, "a"), startCommit(1));
      await s.sink.waitFor(4);
      s.feed.end();
      await s.done;
      ids.push((stateUpdates(s.sink.sent)[0]!.updated as { pending: Record<string, { epoch: string }> }).pending[ENTRY]!.epoch);
    }
    expect(ids[1]).toBe(ids[0]);
    expect(st.staged.size).toBe(1);
  });

  it("Apply applies committed epochs first and changes nothing else; the next Apply does", async () => {
    const st = new Store();
    const spec = sinkSpec(false);
    const s = session(st.connector());
    s.feed.push(openReq(spec), ack(), flush(), store(1, "a"), startCommit(1));
    await s.sink.waitFor(4);
    s.feed.end();
    await s.done;
    let state = durableState({}, s.sink.sent);

    const a1 = session(st.connector());
    a1.feed.push(applyReq(spec, state));
    a1.feed.end();
    await a1.done;
    expect(st.altered).toBe(0);
    expect(st.target.get("[1]")).toBe('{"id":1,"v":"a"}');
    const applied = a1.sink.sent[0]!.applied!;
    expect(applied.actionDescription).toMatch(/applied 1 pending staged transaction/);
    state = applyStateUpdate(state, { updated: JSON.parse(dec.decode(applied.state!.updatedJson)), mergePatch: true });

    const a2 = session(st.connector());
    a2.feed.push(applyReq(spec, state));
    a2.feed.end();
    await a2.done;
    expect(st.altered).toBe(1);
    expect(a2.sink.sent[0]!.applied!.actionDescription).toBe("altered");
  });
});
