import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { RequestSchema, type Request, type Response } from "../../src/gen/materialize/materialize_pb.js";
import { MaterializationSpecSchema, CollectionSpecSchema } from "../../src/gen/flow/flow_pb.js";
import { CheckpointSchema } from "../../src/gen/consumer/protocol/protocol_pb.js";
import { docBytes, runMaterializeSession } from "../../src/sdk/materialize.js";
import { ConstraintType, ZERO_CHECKPOINT, type MaterializeConnector, type Transactor, type StoreRequest } from "../../src/sdk/types.js";
import { createLogger } from "../../src/log.js";
import { RecordingSink, RequestFeed } from "../support/sessions.js";
import { eventually } from "../support/eventually.js";

const enc = new TextEncoder();
const log = createLogger({ level: "error" });

function spec(opts: { delta?: boolean; config?: object } = {}) {
  return create(MaterializationSpecSchema, {
    name: "acme/mat",
    configJson: enc.encode(JSON.stringify(opts.config ?? { path: "/tmp/x", password: "correct-horse-battery" })),
    bindings: [
      {
        resourceConfigJson: enc.encode(JSON.stringify({ table: "t" })),
        resourcePath: ["t"],
        collection: create(CollectionSpecSchema, { name: "acme/c", key: ["/id"] }),
        deltaUpdates: opts.delta ?? false,
        fieldSelection: { keys: ["id"], values: ["v"], document: "flow_document" },
      },
    ],
  });
}

const req = (r: object): Request => create(RequestSchema, r as never);
const open = (opts?: Parameters<typeof spec>[0]) => req({ open: { materialization: spec(opts), version: "v1" } });
const ack = () => req({ acknowledge: {} });
const load = (id: number) => req({ load: { binding: 0, keyJson: enc.encode(`[${id}]`) } });
const flush = () => req({ flush: {} });
const store = (id: number, exists = false) =>
  req({ store: { binding: 0, keyJson: enc.encode(`[${id}]`), valuesJson: enc.encode(`["v${id}"]`), docJson: enc.encode(`{"id":${id}}`), exists } });
const startCommit = () => req({ startCommit: { runtimeCheckpoint: create(CheckpointSchema, {}) } });

const kinds = (sent: Response[]) =>
  sent.map((r) => Object.keys(r).find((k) => k !== "$typeName" && k !== "internal" && (r as never)[k] !== undefined));

/** A transactor over a Map, with hooks to slow down or misbehave. */
function memoryConnector(hooks: { ackGate?: (n: number) => Promise<void> | undefined; eagerLoaded?: boolean; opened?: "zero" } = {}) {
  let acks = 0;
  const table = new Map<string, string>();
  const events: string[] = [];
  const connector: MaterializeConnector = {
    protocol: "materialize",
    name: "memory",
    documentationUrl: "",
    configSchema: {
      type: "object",
      properties: { path: { type: "string" }, password: { type: "string", secret: true, minLength: 10 } },
      required: ["path"],
    },
    resourceConfigSchema: { type: "object", properties: { table: { type: "string" } }, required: ["table"] },
    async validate({ bindings }) {
      return bindings.map(() => ({ constraints: { id: { type: ConstraintType.FIELD_REQUIRED, reason: "key" } }, resourcePath: ["t"], deltaUpdates: false }));
    },
    async apply() {
      return { actionDescription: "nothing" };
    },
    async open() {
      const transactor: Transactor = {
        async acknowledge() {
          events.push("acknowledge");
          await hooks.ackGate?.(acks++);
        },
        async load(it, loaded) {
          const keys: string[] = [];
          for await (const l of it) {
            events.push(`stage ${l.keyJson}`);
            keys.push(l.keyJson);
            if (hooks.eagerLoaded) await loaded(0, {});
          }
          await it.committed();
          for (const k of keys) {
            const doc = table.get(k);
            if (doc) await loaded(0, JSON.parse(doc));
          }
        },
        async store(it) {
          const rows: StoreRequest[] = [];
          for await (const s of it) rows.push(s);
          return async () => {
            for (const s of rows) table.set(s.keyJson, s.docJson);
            events.push(`commit ${rows.length}`);
            return { updated: { committed: rows.length } };
          };
        },
      };
      return { transactor, runtimeCheckpoint: hooks.opened === "zero" ? ZERO_CHECKPOINT : undefined };
    },
  };
  return { connector, table, events };
}

function start(connector: MaterializeConnector) {
  const feed = new RequestFeed<Request>();
  const sink = new RecordingSink<Response>();
  const done = runMaterializeSession(connector, feed, sink, { log });
  return { feed, sink, done };
}

describe("materialize session", () => {
  it("runs two transactions in protocol order", async () => {
    const { connector, table } = memoryConnector({ opened: "zero" });
    const { feed, sink, done } = start(connector);
    feed.push(open(), ack(), flush(), store(1), store(2), startCommit());
    await sink.waitFor(4);
    feed.push(ack(), load(1), load(3), flush(), store(1, true), startCommit(), ack());
    feed.end();
    await done;
    expect(kinds(sink.sent)).toEqual([
      "opened", "acknowledged", "flushed", "startedCommit",
      "acknowledged", "loaded", "flushed", "startedCommit", "acknowledged",
    ]);
    const loaded = sink.sent[5]!.loaded!;
    expect(new TextDecoder().decode(loaded.docJson)).toBe('{"id":1}');
    expect(table.size).toBe(2);
    // The zero sentinel survives as an unknown field of an empty checkpoint.
    const cp = sink.sent[0]!.opened!.runtimeCheckpoint!;
    expect(Object.keys(cp.sources)).toEqual([]);
    expect(cp.$unknown?.[0]?.no).toBe(536870911);
    expect(new TextDecoder().decode(sink.sent[3]!.startedCommit!.state!.updatedJson)).toBe('{"committed":2}');
  });

  it("stages pipelined Loads while the previous commit is acknowledged, and answers them only after Acknowledged", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { connector, events } = memoryConnector({ ackGate: (n) => (n === 1 ? gate : undefined) });
    const { feed, sink, done } = start(connector);
    feed.push(open(), ack(), flush(), store(7), startCommit());
    await sink.waitFor(4);
    feed.push(ack(), load(7));
    await eventually(() => events.includes("stage [7]"), "the pipelined Load to be staged");
    expect(kinds(sink.sent)).toHaveLength(4); // no Acknowledged, no Loaded yet
    release();
    await sink.waitFor(5);
    feed.push(flush());
    await sink.waitFor(7);
    expect(kinds(sink.sent).slice(4)).toEqual(["acknowledged", "loaded", "flushed"]);
    feed.push(startCommit());
    feed.end();
    await done;
  });

  it("refuses a Loaded sent before the previous commit was acknowledged", async () => {
    const gate = new Promise<void>(() => {}); // never acknowledged
    const { connector } = memoryConnector({ eagerLoaded: true, ackGate: () => gate });
    const { feed, done } = start(connector);
    feed.push(open(), ack(), load(1));
    await expect(done).rejects.toThrow(/loaded\(\) was called before the previous commit was acknowledged/);
  });

  it.each([
    ["Load before the first Acknowledge", [open(), load(1)], /materialize.Request.Load is not allowed after Opened; expected materialize.Request.Acknowledge/],
    ["Store before Flush", [open(), ack(), store(1)], /materialize.Request.Store is not allowed after materialize.Request.Acknowledge; expected materialize.Request.Load or materialize.Request.Flush/],
    ["StartCommit before Flush", [open(), ack(), load(1), startCommit()], /materialize.Request.StartCommit is not allowed after materialize.Request.Load/],
    ["Load after Flush", [open(), ack(), flush(), load(1)], /materialize.Request.Load is not allowed after materialize.Request.Flush; expected materialize.Request.Store or materialize.Request.StartCommit/],
    ["Acknowledge before StartCommit", [open(), ack(), flush(), store(1), ack()], /materialize.Request.Acknowledge is not allowed after materialize.Request.Store/],
    ["Load before Open", [load(1)], /materialize.Request.Load is only valid after Open/],
    ["an empty request", [req({})], /materialize.Request sets no message/],
    ["two messages in one request", [req({ flush: {}, acknowledge: {} })], /sets both Flush and Acknowledge/],
  ])("rejects %s, naming the message", async (_name, reqs, error) => {
    const { connector } = memoryConnector();
    const { feed, done } = start(connector);
    feed.push(...(reqs as Request[]));
    feed.end();
    await expect(done).rejects.toThrow(error);
  });

  it("reports a store() failure itself, not that store() stopped reading", async () => {
    const { connector } = memoryConnector();
    const openConnector = connector.open.bind(connector);
    connector.open = async (r, c) => {
      const o = await openConnector(r, c);
      o.transactor.store = async (it) => {
        for await (const _ of it) throw new Error("disk full");
        throw new Error("unreachable");
      };
      return o;
    };
    const { feed, done } = start(connector);
    feed.push(open(), ack(), flush(), ...Array.from({ length: 50 }, (_, i) => store(i)), startCommit());
    feed.end();
    await expect(done).rejects.toThrow("disk full");
  });

  it("says so when store() returns before reading every Store", async () => {
    const { connector } = memoryConnector();
    const openConnector = connector.open.bind(connector);
    connector.open = async (r, c) => {
      const o = await openConnector(r, c);
      o.transactor.store = async () => async () => undefined;
      return o;
    };
    const { feed, done } = start(connector);
    feed.push(open(), ack(), flush(), store(1), store(2), startCommit());
    feed.end();
    await expect(done).rejects.toThrow("store() returned before reading every Store of the transaction");
  });

  it("rejects a Load for a delta-updates binding", async () => {
    const { connector } = memoryConnector();
    const { feed, done } = start(connector);
    feed.push(open({ delta: true }), ack(), load(1));
    feed.end();
    await expect(done).rejects.toThrow(/delta updates and is never loaded/);
  });

  it("reports every config violation with its pointer, and never the secret", async () => {
    const { connector } = memoryConnector();
    const { feed, done } = start(connector);
    feed.push(open({ config: { password: "short-pw", extra: 1, path: 5 } }));
    feed.end();
    const err = await done.catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^invalid endpoint config: /);
    expect(msg).toContain("/path: must be string");
    expect(msg).toContain("/password: must NOT have fewer than 10 characters");
    expect(msg).not.toContain("short-pw");
  });

  it("never logs the secret parts of the config, even at debug level", async () => {
    const lines: string[] = [];
    const { connector } = memoryConnector();
    const feed = new RequestFeed<Request>();
    const sink = new RecordingSink<Response>();
    const debugLog = createLogger({ level: "debug", write: (l) => lines.push(l) });
    const done = runMaterializeSession(connector, feed, sink, { log: debugLog });
    feed.push(open());
    feed.end();
    await done;
    const all = lines.join("");
    expect(all).toContain('"password":"<redacted>"');
    expect(all).toContain('"path":"/tmp/x"');
    expect(all).not.toContain("correct-horse-battery");
  });

  it("answers Validate with constraints, and Spec with the protocol version", async () => {
    const { connector } = memoryConnector();
    const { feed, sink, done } = start(connector);
    feed.push(
      req({ spec: {} }),
      req({ validate: { name: "acme/mat", configJson: enc.encode('{"path":"x"}'), bindings: [{ resourceConfigJson: enc.encode('{"table":"t"}'), collection: { name: "c" } }] } }),
    );
    feed.end();
    await done;
    expect(sink.sent[0]!.spec!.protocol).toBe(3032023);
    expect(sink.sent[1]!.validated!.bindings[0]!.constraints.id!.type).toBe(1);
  });

  it("keeps a Store's document as its bytes (docBytes) only while they are valid UTF-8 and docJson was not replaced", async () => {
    const { connector } = memoryConnector();
    const seen: { bytes?: string; text: string }[] = [];
    const base = connector.open.bind(connector);
    connector.open = async (o, ctx) => {
      const opened = await base(o, ctx);
      opened.transactor.store = async (it) => {
        for await (const s of it) {
          const before = docBytes(s);
          seen.push({ bytes: before && Buffer.from(before).toString("hex"), text: s.docJson });
          if (s.keyJson === "[3]") {
            s.docJson = '{"replaced":true}';
            seen.push({ bytes: docBytes(s) && "still bytes", text: s.docJson });
          }
        }
        return async () => undefined;
      };
      return opened;
    };
    const { feed, sink, done } = start(connector);
    const doc = (id: number, bytes: Uint8Array) => req({ store: { binding: 0, keyJson: enc.encode(`[${id}]`), valuesJson: enc.encode(`["v"]`), docJson: bytes } });
    const valid = enc.encode('{"é":"😀\\t"}');
    const invalid = new Uint8Array([0x7b, 0x22, 0xff, 0xc3, 0x22, 0x7d]); // {"<ff><lone lead byte>"}
    feed.push(open(), ack(), flush(), doc(1, valid), doc(2, invalid), doc(3, valid), doc(4, new Uint8Array(0)), startCommit());
    await sink.waitFor(4);
    feed.end();
    await done;
    expect(seen).toEqual([
      { bytes: Buffer.from(valid).toString("hex"), text: '{"é":"😀\\t"}' },
      { bytes: undefined, text: '{"\uFFFD\uFFFD"}' },
      { bytes: Buffer.from(valid).toString("hex"), text: '{"é":"😀\\t"}' },
      { bytes: undefined, text: '{"replaced":true}' },
      { bytes: "", text: "" },
    ]);
  });
});

