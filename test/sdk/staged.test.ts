import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { RequestSchema, type Request, type Response } from "../../src/gen/materialize/materialize_pb.js";
import { MaterializationSpecSchema, CollectionSpecSchema } from "../../src/gen/flow/flow_pb.js";
import { CheckpointSchema } from "../../src/gen/consumer/protocol/protocol_pb.js";
import { runMaterializeSession } from "../../src/sdk/materialize.js";
import { applyStateUpdate } from "../../src/sdk/state.js";
import { drainPending, drainedDescription, rangeEntry, stagedTransactor } from "../../src/sdk/staged.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { ConstraintType, type MaterializeConnector } from "../../src/sdk/types.js";
import { createLogger } from "../../src/log.js";
import { RecordingSink, RequestFeed } from "../support/sessions.js";

const enc = new TextEncoder();
const dec = new TextDecoder();
const log = createLogger({ level: "error" });

const spec = create(MaterializationSpecSchema, {
  name: "acme/mat",
  configJson: enc.encode("{}"),
  bindings: [
    {
      resourceConfigJson: enc.encode("{}"),
      resourcePath: ["t"],
      collection: create(CollectionSpecSchema, { name: "acme/c", key: ["/id"] }),
      fieldSelection: { keys: ["id"], values: [], document: "flow_document" },
    },
  ],
});

const req = (r: object): Request => create(RequestSchema, r as never);
const open = (state: unknown = {}) =>
  req({ open: { materialization: spec, version: "v1", range: { keyBegin: 0, keyEnd: 0x7fffffff, rClockEnd: 0xffffffff }, stateJson: enc.encode(JSON.stringify(state)) } });
const ack = () => req({ acknowledge: {} });
const load = (id: number) => req({ load: { binding: 0, keyJson: enc.encode(`[${id}]`) } });
const flush = () => req({ flush: {} });
const store = (id: number, v: string) => req({ store: { binding: 0, keyJson: enc.encode(`[${id}]`), docJson: enc.encode(JSON.stringify({ id, v })) } });
const startCommit = () => req({ startCommit: { runtimeCheckpoint: create(CheckpointSchema, {}) } });
const applyReq = (state: unknown) => req({ apply: { materialization: spec, version: "v2", stateJson: enc.encode(JSON.stringify(state)) } });

const ENTRY = rangeEntry({ keyBegin: 0, keyEnd: 0x7fffffff });

type Pending = { stage: string; rows: number };

/**
 * A destination with a staging area and a target table, both surviving
 * across sessions like a real database. Hooks let tests fail an apply after
 * some rows, to model a crash in the middle of it.
 */
class Destination {
  staged = new Map<string, Array<[string, string]>>();
  target = new Map<string, string>();
  events: string[] = [];
  applies = 0;
  ddl = 0;
  failApplyAfter?: number;
  applyGate?: Promise<void>;
  private nextStage = 0;

  connector(): MaterializeConnector {
    const dest = this;
    const handlers = {
      async apply(p: Pending, info: { recovered: boolean }) {
        dest.applies++;
        await dest.applyGate;
        const rows = dest.staged.get(p.stage);
        if (!rows) {
          if (info.recovered) return dest.events.push(`already applied ${p.stage}`), undefined;
          throw new ConnectorError(`stage ${p.stage} is missing`);
        }
        let n = 0;
        for (const [k, v] of rows) {
          if (dest.failApplyAfter !== undefined && n++ === dest.failApplyAfter) {
            dest.failApplyAfter = undefined;
            throw new Error("crashed in the middle of an apply");
          }
          dest.target.set(k, v);
        }
        dest.events.push(`applied ${p.stage}`);
      },
      async cleanup(p: Pending) {
        dest.staged.delete(p.stage);
      },
    };
    return {
      protocol: "materialize",
      name: "staged-memory",
      documentationUrl: "",
      configSchema: { type: "object" },
      resourceConfigSchema: { type: "object" },
      async validate({ bindings }) {
        return bindings.map(() => ({ constraints: { id: { type: ConstraintType.LOCATION_REQUIRED, reason: "key" } }, resourcePath: ["t"], deltaUpdates: false }));
      },
      async apply({ state }) {
        const drained = await drainPending<Pending>(state, handlers, log);
        if (drained) return { actionDescription: drainedDescription(drained), state: drained };
        dest.ddl++;
        return { actionDescription: "altered the table" };
      },
      async open({ state, range }) {
        const transactor = stagedTransactor<Pending>({
          state,
          entry: rangeEntry(range),
          ...handlers,
          async stage(it) {
            const rows: Array<[string, string]> = [];
            for await (const s of it) rows.push([s.keyJson, s.docJson]);
            if (rows.length === 0) return undefined;
            const name = `stage-${dest.nextStage++}`;
            dest.staged.set(name, rows);
            dest.events.push(`staged ${name}`);
            return { stage: name, rows: rows.length };
          },
          async load(it, loaded) {
            const keys: string[] = [];
            for await (const l of it) keys.push(l.keyJson);
            await it.committed();
            dest.events.push(`read ${keys.join(" ")}`);
            for (const k of keys) {
              const doc = dest.target.get(k);
              if (doc) await loaded(0, JSON.parse(doc));
            }
          },
        });
        return { transactor };
      },
    };
  }
}

function session(dest: Destination) {
  const feed = new RequestFeed<Request>();
  const sink = new RecordingSink<Response>();
  const done = runMaterializeSession(dest.connector(), feed, sink, { log });
  return { feed, sink, done };
}

type Kind = "opened" | "acknowledged" | "loaded" | "flushed" | "startedCommit" | "applied";
const kindOf = (r: Response) => (["opened", "acknowledged", "loaded", "flushed", "startedCommit", "applied"] as Kind[]).find((k) => r[k] !== undefined)!;

/** The state updates a session sent, in order, with the response that carried each. */
function stateUpdates(sent: Response[]): Array<{ kind: Kind; updated: unknown; mergePatch: boolean }> {
  const out = [];
  for (const r of sent) {
    const kind = kindOf(r);
    const s = (r[kind] as { state?: { updatedJson: Uint8Array; mergePatch: boolean } } | undefined)?.state;
    if (s) out.push({ kind, updated: JSON.parse(dec.decode(s.updatedJson)), mergePatch: s.mergePatch });
  }
  return out;
}

/**
 * The state the runtime would hold after a session: StartedCommit updates
 * commit with the checkpoint; Acknowledged updates count only if persisted,
 * which a crash may prevent (`keepAcknowledged: false`).
 */
function durableState(prior: unknown, sent: Response[], keepAcknowledged = true): unknown {
  let state = prior;
  for (const u of stateUpdates(sent)) {
    if (u.kind === "acknowledged" && !keepAcknowledged) continue;
    state = applyStateUpdate(state, u);
  }
  return state;
}

describe("stagedTransactor", () => {
  it("stages at Store, describes the stage in StartedCommit, applies only at Acknowledge, then clears it", async () => {
    const dest = new Destination();
    const { feed, sink, done } = session(dest);
    feed.push(open(), ack(), flush(), store(1, "a"), store(2, "b"), startCommit());
    await sink.waitFor(4);
    expect(dest.staged.size).toBe(1);
    expect(dest.target.size).toBe(0); // nothing touches the target before Acknowledge
    feed.push(ack());
    await sink.waitFor(5);
    expect([...dest.target.keys()]).toEqual(["[1]", "[2]"]);
    expect(dest.staged.size).toBe(0); // cleaned up
    feed.end();
    await done;

    expect(sink.sent.map(kindOf)).toEqual(["opened", "acknowledged", "flushed", "startedCommit", "acknowledged"]);
    expect(stateUpdates(sink.sent)).toEqual([
      { kind: "startedCommit", updated: { pending: { [ENTRY]: { stage: "stage-0", rows: 2 } } }, mergePatch: true },
      { kind: "acknowledged", updated: { pending: { [ENTRY]: null } }, mergePatch: true },
    ]);
    expect(durableState({}, sink.sent)).toEqual({ pending: {} });
  });

  it("never sends a state update that changes nothing", async () => {
    const dest = new Destination();
    const { feed, sink, done } = session(dest);
    // First Acknowledge with nothing pending; an empty transaction; a
    // duplicate Acknowledge of the same (empty) commit.
    feed.push(open(), ack(), flush(), startCommit(), ack(), flush(), startCommit(), ack());
    feed.end();
    await done;
    expect(sink.sent.map(kindOf)).toEqual(["opened", "acknowledged", "flushed", "startedCommit", "acknowledged", "flushed", "startedCommit", "acknowledged"]);
    expect(stateUpdates(sink.sent)).toEqual([]);
    expect(dest.applies).toBe(0);
  });

  it("replays the pending stage after a crash between StartedCommit and Acknowledge", async () => {
    const dest = new Destination();
    const first = session(dest);
    first.feed.push(open(), ack(), flush(), store(1, "a"), store(2, "b"), startCommit());
    await first.sink.waitFor(4);
    first.feed.end(); // the process dies before the runtime's Acknowledge
    await first.done;
    expect(dest.target.size).toBe(0);
    const state = durableState({}, first.sink.sent);
    expect(state).toEqual({ pending: { [ENTRY]: { stage: "stage-0", rows: 2 } } });

    const second = session(dest);
    second.feed.push(open(state), ack());
    await second.sink.waitFor(2);
    expect(dest.events).toEqual(["staged stage-0", "applied stage-0"]);
    expect(Object.fromEntries(dest.target)).toEqual({ "[1]": '{"id":1,"v":"a"}', "[2]": '{"id":2,"v":"b"}' });
    expect(stateUpdates(second.sink.sent)).toEqual([{ kind: "acknowledged", updated: { pending: { [ENTRY]: null } }, mergePatch: true }]);
    second.feed.end();
    await second.done;
  });

  it("re-applies after a crash in the middle of an apply, and a second apply of the same stage is harmless", async () => {
    const dest = new Destination();
    const first = session(dest);
    first.feed.push(open(), ack(), flush(), store(1, "a"), store(2, "b"), store(3, "c"), startCommit());
    await first.sink.waitFor(4);
    dest.failApplyAfter = 1;
    first.feed.push(ack());
    await expect(first.done).rejects.toThrow(/crashed in the middle of an apply/);
    expect(dest.target.size).toBe(1); // partly applied
    const state = durableState({}, first.sink.sent);

    const second = session(dest);
    second.feed.push(open(state), ack());
    await second.sink.waitFor(2);
    second.feed.end();
    await second.done;
    const expected = { "[1]": '{"id":1,"v":"a"}', "[2]": '{"id":2,"v":"b"}', "[3]": '{"id":3,"v":"c"}' };
    expect(Object.fromEntries(dest.target)).toEqual(expected);

    // The clearing Acknowledged state is best-effort: if it was lost, a third
    // session replays an entry whose stage is already cleaned up.
    const stale = durableState(state, second.sink.sent, false);
    expect(stale).toEqual(state);
    const third = session(dest);
    third.feed.push(open(stale), ack());
    await third.sink.waitFor(2);
    third.feed.end();
    await third.done;
    expect(dest.events.at(-1)).toBe("already applied stage-0");
    expect(Object.fromEntries(dest.target)).toEqual(expected);
    expect(stateUpdates(third.sink.sent)).toEqual([{ kind: "acknowledged", updated: { pending: { [ENTRY]: null } }, mergePatch: true }]);
  });

  it("holds Loads until the previous transaction is applied (read-committed)", async () => {
    const dest = new Destination();
    const { feed, sink, done } = session(dest);
    feed.push(open(), ack(), flush(), store(1, "a"), startCommit());
    await sink.waitFor(4);
    let release!: () => void;
    dest.applyGate = new Promise<void>((r) => (release = r));
    feed.push(ack(), load(1));
    await new Promise((r) => setTimeout(r, 50));
    expect(dest.events).not.toContain("read [1]");
    expect(sink.sent).toHaveLength(4);
    release();
    feed.push(flush());
    await sink.waitFor(7);
    expect(dest.events).toEqual(["staged stage-0", "applied stage-0", "read [1]"]);
    expect(sink.sent.slice(4).map(kindOf)).toEqual(["acknowledged", "loaded", "flushed"]);
    expect(JSON.parse(dec.decode(sink.sent[5]!.loaded!.docJson))).toEqual({ id: 1, v: "a" });
    feed.push(startCommit());
    feed.end();
    await done;
  });

  it("leaves other key ranges' pending entries alone", async () => {
    const dest = new Destination();
    dest.staged.set("theirs", [["[9]", "{}"]]);
    const state = { pending: { "80000000-ffffffff": { stage: "theirs", rows: 1 } } };
    const { feed, sink, done } = session(dest);
    feed.push(open(state), ack());
    feed.end();
    await done;
    expect(dest.applies).toBe(0);
    expect(stateUpdates(sink.sent)).toEqual([]);
  });
});

describe("drainPending in Apply", () => {
  it("applies pending work and returns only the clearing state; the next Apply makes the change", async () => {
    const dest = new Destination();
    const first = session(dest);
    first.feed.push(open(), ack(), flush(), store(1, "a"), startCommit());
    await first.sink.waitFor(4);
    first.feed.end();
    await first.done;
    let state = durableState({}, first.sink.sent);

    const apply1 = session(dest);
    apply1.feed.push(applyReq(state));
    apply1.feed.end();
    await apply1.done;
    expect(dest.ddl).toBe(0); // nothing altered while work was pending
    expect(dest.target.get("[1]")).toBe('{"id":1,"v":"a"}');
    const applied = apply1.sink.sent[0]!.applied!;
    expect(applied.actionDescription).toMatch(/applied 1 pending staged transaction before making changes/);
    expect(JSON.parse(dec.decode(applied.state!.updatedJson))).toEqual({ pending: { [ENTRY]: null } });
    state = applyStateUpdate(state, { updated: JSON.parse(dec.decode(applied.state!.updatedJson)), mergePatch: applied.state!.mergePatch });

    const apply2 = session(dest);
    apply2.feed.push(applyReq(state));
    apply2.feed.end();
    await apply2.done;
    expect(dest.ddl).toBe(1);
    expect(apply2.sink.sent[0]!.applied!.state).toBeUndefined();
  });

  it("returns nothing when nothing is pending, and rejects a malformed pending property", async () => {
    const h = { apply: async () => {} };
    expect(await drainPending({}, h)).toBeUndefined();
    expect(await drainPending({ pending: {} }, h)).toBeUndefined();
    await expect(drainPending({ pending: [1] }, h)).rejects.toThrow(/malformed "pending" property/);
  });
});
