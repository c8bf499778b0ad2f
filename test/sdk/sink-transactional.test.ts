import { describe, expect, it } from "vitest";
import { epochSink } from "../../src/sdk/sink-connector.js";
import { decodeCheckpoint } from "../../src/sdk/checkpoint.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import type { Epoch, SinkBatch, SinkCommit, SinkOperation } from "../../src/sdk/sink.js";
import type { LoadRequest } from "../../src/sdk/types.js";
import { readThrough } from "../support/materialize-driver.js";
import { ack, flush, load, loadedDocs, openReq, session, sinkSpec, startCommit, store, validateReq } from "../support/sink-session.js";

/**
 * A transactional destination: an epoch's writes are buffered and become
 * visible with the checkpoint of their range in one commit; each Open of a
 * range bumps its fence, and a commit under an older fence is refused.
 */
class Database {
  rows = new Map<string, string>();
  checkpoints = new Map<string, { checkpoint: string; fence: number }>();
  events: string[] = [];
  omitLoad = false;
  operations: SinkOperation[] = ["upsert", "deletes"];

  connector() {
    const db = this;
    return epochSink<Record<string, never>, { name: string; delta?: boolean }>({
      name: "memory-sql",
      documentationUrl: "",
      configSchema: { type: "object" },
      resourceConfigSchema: { type: "object", properties: { name: { type: "string" } } },
      capabilities: () => ({ delivery: "exactly-once-transactional", operations: db.operations }),
      resourcePath: (res) => [res.name],
      deltaUpdates: (res) => res.delta === true,
      async open({ rangeName }) {
        const prior = db.checkpoints.get(rangeName);
        const fence = (prior?.fence ?? 0) + 1;
        db.checkpoints.set(rangeName, { checkpoint: prior?.checkpoint ?? "", fence });
        let txn = new Map<string, string | null>();
        return {
          storedCheckpoint: prior?.checkpoint || null,
          ...(db.omitLoad
            ? {}
            : {
                async load(keys: LoadRequest[], loaded: (b: number, doc: unknown) => void | Promise<void>) {
                  db.events.push(`load ${keys.map((k) => k.keyJson).join(" ")}`);
                  for (const k of keys) {
                    const doc = db.rows.get(k.keyJson);
                    if (doc) await loaded(k.binding, JSON.parse(doc));
                  }
                },
              }),
          async beginEpoch() {
            txn = new Map();
          },
          async writeBatch(b: SinkBatch) {
            for (const s of b.stores) txn.set(s.keyJson, s.delete ? null : s.docJson);
          },
          async commitEpoch(e: Epoch, c: SinkCommit) {
            if (db.checkpoints.get(rangeName)!.fence !== fence) throw new ConnectorError("this session was fenced by a newer one");
            for (const [k, v] of txn) v === null ? db.rows.delete(k) : db.rows.set(k, v);
            db.checkpoints.set(rangeName, { checkpoint: c.checkpoint!, fence });
            db.events.push(`commit ${e.id} ${readThrough(decodeCheckpoint(c.checkpoint!))}`);
          },
          async rollbackEpoch(e: Epoch) {
            txn = new Map();
            db.events.push(`rollback ${e.id}`);
          },
        };
      },
    });
  }
}

describe("sink layer, exactly-once-transactional", () => {
  it("commits each epoch with its checkpoint, and Open resumes from the stored one (zero at first)", async () => {
    const db = new Database();
    const spec = sinkSpec(false);
    const a = session(db.connector());
    a.feed.push(openReq(spec), ack());
    await a.sink.waitFor(2);
    expect(a.sink.sent[0]!.opened!.runtimeCheckpoint).toBeDefined();
    expect(readThrough(a.sink.sent[0]!.opened!.runtimeCheckpoint)).toBeUndefined(); // the zero checkpoint
    a.feed.push(flush(), store(1, "a"), store(2, "b"), startCommit(5), ack(), load(1), load(3), flush(), store(1, "a2", 0, { exists: true }), startCommit(6));
    a.feed.end();
    await a.done;
    expect(loadedDocs(a.sink.sent)).toEqual([{ id: 1, v: "a" }]);
    expect(Object.fromEntries(db.rows)).toEqual({ "[1]": '{"id":1,"v":"a2"}', "[2]": '{"id":2,"v":"b"}' });
    const ids = db.events.filter((e) => e.startsWith("commit")).map((e) => e.split(" ")[1]);
    expect(db.events.map((e) => e.replace(/[0-9a-f]{32}/, "ID"))).toEqual(["commit ID 5", "load [1] [3]", "commit ID 6"]);
    expect(ids[0]).not.toBe(ids[1]);

    const b = session(db.connector());
    b.feed.push(openReq(spec), ack(), flush(), store(4, "d"), startCommit(7));
    b.feed.end();
    await b.done;
    expect(readThrough(b.sink.sent[0]!.opened!.runtimeCheckpoint)).toBe(6);
    // No state updates: the destination holds the checkpoint.
    expect(b.sink.sent.some((r) => r.startedCommit?.state || r.acknowledged?.state)).toBe(false);
    const third = db.events.at(-1)!.split(" ")[1];
    expect(new Set([...ids, third]).size).toBe(3);
  });

  it("an epoch's first id follows the stored checkpoint, so a session that reopens after a lost commit replays the same id", async () => {
    const db = new Database();
    const spec = sinkSpec(false);
    const s1 = session(db.connector());
    s1.feed.push(openReq(spec), ack(), flush(), store(1, "a"), startCommit(1));
    await s1.sink.waitFor(4);
    s1.feed.end();
    await s1.done;
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const s = session(db.connector());
      s.feed.push(openReq(spec), ack(), flush(), store(2, "b"));
      await s.sink.waitFor(3);
      s.feed.end(); // dies before StartCommit: the epoch rolls back
      await expect(s.done).rejects.toThrow();
      ids.push(db.events.at(-1)!.replace("rollback ", ""));
    }
    expect(ids[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(ids[1]).toBe(ids[0]);
    expect(db.rows.has("[2]")).toBe(false);
  });

  it("a zombie session's commit fails its fence and rolls back", async () => {
    const db = new Database();
    const spec = sinkSpec(false);
    const zombie = session(db.connector());
    zombie.feed.push(openReq(spec), ack(), flush(), store(1, "zombie"));
    await zombie.sink.waitFor(3);
    const current = session(db.connector());
    current.feed.push(openReq(spec), ack(), flush(), store(1, "current"), startCommit(2));
    await current.sink.waitFor(4);
    zombie.feed.push(startCommit(1));
    zombie.feed.end();
    await expect(zombie.done).rejects.toThrow(/fenced by a newer one/);
    expect(db.events.at(-1)).toMatch(/^rollback /);
    expect(db.rows.get("[1]")).toBe('{"id":1,"v":"current"}');
    current.feed.end();
    await current.done;
  });

  it("applies deletions when the sink declares deletes", async () => {
    const db = new Database();
    const s = session(db.connector());
    s.feed.push(openReq(sinkSpec(false)), ack(), flush(), store(1, "a"), store(2, "b"), startCommit(1));
    s.feed.push(ack(), flush(), store(1, "", 0, { exists: true, delete: true }), startCommit(2));
    s.feed.end();
    await s.done;
    expect([...db.rows.keys()]).toEqual(["[2]"]);
  });

  it("validates standard updates when the sink can upsert, and refuses delta updates it does not declare", async () => {
    const db = new Database();
    const ok = session(db.connector());
    db.operations = ["upsert", "delta"];
    ok.feed.push(validateReq(sinkSpec(false)), validateReq(sinkSpec(true)));
    ok.feed.end();
    await ok.done;
    expect(ok.sink.sent.map((r) => r.validated!.bindings[0]!.deltaUpdates)).toEqual([false, true]);
    expect(ok.sink.sent[0]!.validated!.bindings[0]!.constraints.flow_document!.reason).not.toMatch(/AT-LEAST-ONCE/);

    db.operations = ["upsert"];
    const refused = session(db.connector());
    refused.feed.push(validateReq(sinkSpec(true)));
    refused.feed.end();
    await expect(refused.done).rejects.toThrow(/binding 0 asks for delta updates, which this connector does not support/);
  });

  it("fails Open when a standard-updates binding meets a sink without load()", async () => {
    const db = new Database();
    db.omitLoad = true;
    const s = session(db.connector());
    s.feed.push(openReq(sinkSpec(false)));
    s.feed.end();
    await expect(s.done).rejects.toThrow(/its sink has no load\(\), which a binding with standard \(non-delta\) updates requires/);
  });
});
