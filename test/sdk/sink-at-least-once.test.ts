import { describe, expect, it } from "vitest";
import { epochSink } from "../../src/sdk/sink-connector.js";
import { rangeEntry } from "../../src/sdk/staged.js";
import { ConstraintType } from "../../src/sdk/types.js";
import type { Epoch, SinkBatch, SinkCapabilities, SinkConnector } from "../../src/sdk/sink.js";
import { createLogger } from "../../src/log.js";
import { runMaterializeSession } from "../../src/sdk/materialize.js";
import { RecordingSink, RequestFeed } from "../support/sessions.js";
import { ack, durableState, flush, kindOf, openReq, session, sinkSpec, startCommit, stateUpdates, store, validateReq, FULL } from "../support/sink-session.js";

const ENTRY = rangeEntry(FULL);

/** A push destination (like a webhook receiver) that records every batch it is sent, by idempotency key. */
class Receiver {
  events: string[] = [];
  batches: Array<{ key: string; docs: string[] }> = [];
  failWrites = 0;
  caps: SinkCapabilities = { delivery: "at-least-once", operations: ["delta"] };

  connector(batchSize = 2) {
    return epochSink(this.definition(batchSize));
  }

  definition(batchSize = 2): SinkConnector<Record<string, never>, { name: string }> {
    const r = this;
    return {
      name: "memory-push",
      documentationUrl: "",
      configSchema: { type: "object" },
      resourceConfigSchema: { type: "object", properties: { name: { type: "string" } } },
      capabilities: () => r.caps,
      resourcePath: (res) => [res.name],
      async open() {
        return {
          batchSize,
          async beginEpoch(e: Epoch) {
            r.events.push(`begin ${e.id}`);
          },
          async writeBatch(b: SinkBatch, e: Epoch) {
            if (r.failWrites > 0 && r.failWrites-- === 1) throw new Error("receiver is down");
            r.batches.push({ key: `${e.id}/${b.binding}/${b.index}`, docs: b.stores.map((s) => s.docJson) });
            r.events.push(`write ${b.binding}#${b.index} ${b.stores.length}`);
          },
          async flush() {
            r.events.push("flush");
          },
          async commitEpoch(e: Epoch) {
            r.events.push(`commit ${e.id}`);
          },
          async rollbackEpoch(e: Epoch) {
            r.events.push(`rollback ${e.id}`);
          },
          metrics: () => ({ received: r.batches.length }),
        };
      },
    };
  }
}

describe("sink layer, at-least-once", () => {
  it("maps a transaction onto beginEpoch → writeBatch (per binding, batchSize) → flush → commitEpoch, and records the next epoch id at StartedCommit", async () => {
    const r = new Receiver();
    const spec = sinkSpec(true, 2);
    const { feed, sink, done } = session(r.connector(2));
    feed.push(openReq(spec), ack(), flush());
    feed.push(store(1, "a"), store(2, "b"), store(3, "c"), store(4, "d", 1), store(5, "e"), startCommit(1));
    await sink.waitFor(4);
    const first = r.events[0]!.slice("begin ".length);
    expect(r.events).toEqual([`begin ${first}`, "write 0#0 2", "write 0#1 1", "write 1#0 1", "write 0#2 1", "flush", `commit ${first}`]);
    expect(first).toMatch(/^[0-9a-f]{32}$/);
    const updates = stateUpdates(sink.sent);
    expect(updates).toHaveLength(1);
    expect(updates[0]!.kind).toBe("startedCommit");
    const next = (updates[0]!.updated as { sinkEpochs: Record<string, string> }).sinkEpochs[ENTRY]!;
    expect(next).toMatch(/^[0-9a-f]{32}$/);
    expect(next).not.toBe(first);

    // The next epoch takes that id; an epoch that writes nothing sends no state and keeps it.
    feed.push(ack(), flush(), store(6, "f"), startCommit(2), ack(), flush(), startCommit(3));
    feed.end();
    await done;
    expect(r.events.slice(7, 8)).toEqual([`begin ${next}`]);
    const all = stateUpdates(sink.sent);
    expect(all).toHaveLength(2);
    const third = (all[1]!.updated as { sinkEpochs: Record<string, string> }).sinkEpochs[ENTRY]!;
    expect(new Set([first, next, third]).size).toBe(3);
    expect(r.events.slice(-3)).toEqual([`begin ${third}`, "flush", `commit ${third}`]);
    expect(sink.sent.map(kindOf)).toEqual(["opened", "acknowledged", "flushed", "startedCommit", "acknowledged", "flushed", "startedCommit", "acknowledged", "flushed", "startedCommit"]);
  });

  it("gives a replayed epoch the same id (so the same idempotency keys) and a committed one's successor a new id", async () => {
    const r = new Receiver();
    const spec = sinkSpec(true);
    const run = async (state: unknown) => {
      const s = session(r.connector(10));
      s.feed.push(openReq(spec, state), ack(), flush(), store(1, "a"), store(2, "b"), startCommit(7));
      await s.sink.waitFor(4);
      s.feed.end(); // dies before the runtime acknowledges
      await s.done;
      return s.sink.sent;
    };
    const sent = await run({});
    const keys1 = r.batches.map((b) => b.key);
    // The runtime's log commit did not land: it replays from the old state.
    await run(durableState({}, sent, { commits: 0 }));
    expect(r.batches.slice(1).map((b) => b.key)).toEqual(keys1);
    // It landed: the next epoch is a new one.
    await run(durableState({}, sent));
    expect(r.batches[2]!.key).not.toBe(keys1[0]);
    expect(r.batches.map((b) => b.docs)).toEqual(Array(3).fill(['{"id":1,"v":"a"}', '{"id":2,"v":"b"}']));
  });

  it("rolls back the epoch when a write fails, and fails the session naming the cause", async () => {
    const r = new Receiver();
    r.failWrites = 2; // the second batch fails
    const { feed, done } = session(r.connector(1));
    feed.push(openReq(sinkSpec(true)), ack(), flush(), store(1, "a"), store(2, "b"), startCommit(1));
    feed.end();
    await expect(done).rejects.toThrow(/receiver is down/);
    expect(r.events.filter((e) => !e.startsWith("begin"))).toEqual(["write 0#0 1", `rollback ${r.events[0]!.slice(6)}`]);
  });

  it("rolls back an epoch left open when the stream ends mid-transaction", async () => {
    const r = new Receiver();
    const { feed, sink, done } = session(r.connector());
    feed.push(openReq(sinkSpec(true)), ack(), flush(), store(1, "a"));
    await sink.waitFor(3);
    feed.end();
    await expect(done).rejects.toThrow(/stream ended/);
    expect(r.events.at(-1)).toMatch(/^rollback /);
  });

  it("logs the layer's counters and the sink's metrics() when the session ends, and forwards healthCheck", async () => {
    const r = new Receiver();
    const lines: string[] = [];
    const feed = new RequestFeed<any>();
    const done = runMaterializeSession(r.connector(2), feed, new RecordingSink<any>(), { log: createLogger({ level: "info", write: (l) => lines.push(l) }) });
    feed.push(openReq(sinkSpec(true)), ack(), flush(), store(1, "a"), store(2, "b"), store(3, "c"), startCommit(1), ack(), flush(), startCommit(2));
    feed.end();
    await done;
    const m = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "sink metrics");
    expect(m).toMatchObject({ epochs: 2, committed: 2, rolledBack: 0, batches: 2, stores: 3, received: 2 });

    let checked = 0;
    const healthy = epochSink({ ...r.definition(), healthCheck: async () => void checked++ });
    await healthy.healthCheck!({}, { log: createLogger({ level: "error" }), signal: new AbortController().signal });
    expect(checked).toBe(1);
    expect(r.connector().healthCheck).toBeUndefined();
  });

  it("refuses a deletion when the sink does not declare deletes", async () => {
    const r = new Receiver();
    const { feed, done } = session(r.connector());
    feed.push(openReq(sinkSpec(true)), ack(), flush(), store(1, "a", 0, { delete: true }), startCommit(1));
    feed.end();
    await expect(done).rejects.toThrow(/binding 0 received a deletion, but this connector does not support deletes/);
  });

  it("validates every binding as delta updates when the sink cannot upsert, requiring the key and root document and labelling at-least-once", async () => {
    const r = new Receiver();
    const { feed, sink, done } = session(r.connector());
    feed.push(validateReq(sinkSpec(false, 2)));
    feed.end();
    await done;
    const bindings = sink.sent[0]!.validated!.bindings;
    expect(bindings.map((b) => [b.deltaUpdates, b.resourcePath])).toEqual([
      [true, ["t0"]],
      [true, ["t1"]],
    ]);
    const c = bindings[0]!.constraints;
    expect(c.id!.type).toBe(ConstraintType.LOCATION_REQUIRED);
    expect(c.flow_document!.type).toBe(ConstraintType.LOCATION_REQUIRED);
    expect(c.flow_document!.reason).toMatch(/AT-LEAST-ONCE/);
    expect(c.v!.type).toBe(ConstraintType.FIELD_OPTIONAL);
  });
});
