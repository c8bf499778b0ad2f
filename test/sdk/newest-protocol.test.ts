/**
 * The SDK under the newest runtime's forms: linked collections (indirect
 * form), projection constraints beside the legacy map, capture backfill
 * markers alone in their checkpoints, fallback keys, Apply state, Flush
 * backfill events, and fields our protos do not know.
 */
import { describe, expect, it } from "vitest";
import { create, toBinary, fromBinary } from "@bufbuild/protobuf";
import * as cap from "../../src/gen/capture/capture_pb.js";
import * as mat from "../../src/gen/materialize/materialize_pb.js";
import { CaptureSpecSchema, CollectionSpecSchema, MaterializationSpecSchema, type CollectionSpec } from "../../src/gen/flow/flow_pb.js";
import { CheckpointSchema } from "../../src/gen/consumer/protocol/protocol_pb.js";
import { runCaptureSession } from "../../src/sdk/capture.js";
import { runMaterializeSession } from "../../src/sdk/materialize.js";
import { ConstraintType, type BackfillMarker, type CaptureConnector, type MaterializeConnector } from "../../src/sdk/types.js";
import helloWorld from "../../connectors/source-hello-world/connector.js";
import { createLogger } from "../../src/log.js";
import { RecordingSink, RequestFeed } from "../support/sessions.js";

const enc = new TextEncoder();
const dec = new TextDecoder();
const quiet = createLogger({ level: "error" });
const collection = (name: string) => create(CollectionSpecSchema, { name, key: ["/id"] });

function runCapture(connector: CaptureConnector, reqs: object[], log = quiet) {
  const feed = new RequestFeed<cap.Request>();
  const sink = new RecordingSink<cap.Response>();
  feed.push(...reqs.map((r) => create(cap.RequestSchema, r as never)));
  feed.end();
  return runCaptureSession(connector, feed, sink, { log }).then(() => sink.sent);
}

function runMaterialize(connector: MaterializeConnector, reqs: object[], log = quiet) {
  const feed = new RequestFeed<mat.Request>();
  const sink = new RecordingSink<mat.Response>();
  feed.push(...reqs.map((r) => create(mat.RequestSchema, r as never)));
  feed.end();
  return runMaterializeSession(connector, feed, sink, { log }).then(() => sink.sent);
}

/** A materialization that records what it was given. */
function recordingMaterialization() {
  const seen: { validate?: CollectionSpec[]; apply?: CollectionSpec[]; open?: CollectionSpec[]; flushes: { begins: BackfillMarker[]; completes: BackfillMarker[] }[] } = { flushes: [] };
  const connector: MaterializeConnector = {
    protocol: "materialize",
    name: "recording",
    documentationUrl: "",
    configSchema: { type: "object" },
    resourceConfigSchema: { type: "object", properties: { table: { type: "string" } }, required: ["table"] },
    async validate({ bindings }) {
      seen.validate = bindings.map((b) => b.collection);
      return bindings.map(() => ({
        constraints: {
          id: { type: ConstraintType.LOCATION_REQUIRED, reason: "the key" },
          v: { type: ConstraintType.FIELD_OPTIONAL, reason: "a value", foldedField: "V" },
        },
        resourcePath: ["t"],
        deltaUpdates: false,
      }));
    },
    async apply({ bindings }) {
      seen.apply = bindings.map((b) => b.collection);
      return { actionDescription: "" };
    },
    async open({ bindings }) {
      seen.open = bindings.map((b) => b.collection);
      return {
        transactor: {
          async acknowledge() {},
          async flush({ backfillBegins, backfillCompletes }) {
            seen.flushes.push({ begins: backfillBegins, completes: backfillCompletes });
          },
          async store(it) {
            for await (const _ of it);
            return async () => {};
          },
        },
      };
    },
  };
  return { connector, seen };
}

const matSpecIndirect = () =>
  create(MaterializationSpecSchema, {
    name: "acme/mat",
    configJson: enc.encode("{}"),
    linkedCollections: [collection("acme/zero"), collection("acme/one")],
    bindings: [
      { resourceConfigJson: enc.encode('{"table":"a"}'), resourcePath: ["a"], collectionIndex: 1, fieldSelection: { keys: ["id"] } },
      { resourceConfigJson: enc.encode('{"table":"b"}'), resourcePath: ["b"], collectionIndex: 0, fieldSelection: { keys: ["id"] } },
    ],
  });

describe("materialize under the newest runtime", () => {
  it("resolves linked collections in Validate, Apply and Open, and answers Validate in both constraint forms", async () => {
    const { connector, seen } = recordingMaterialization();
    const sent = await runMaterialize(connector, [
      {
        validate: {
          name: "acme/mat",
          configJson: enc.encode("{}"),
          linkedCollections: [collection("acme/zero"), collection("acme/one")],
          bindings: [{ resourceConfigJson: enc.encode('{"table":"a"}'), collectionIndex: 1 }],
        },
      },
      { apply: { materialization: matSpecIndirect(), version: "v1" } },
      { open: { materialization: matSpecIndirect(), version: "v1" } },
    ]);
    expect(seen.validate!.map((c) => c.name)).toEqual(["acme/one"]);
    expect(seen.apply!.map((c) => c.name)).toEqual(["acme/one", "acme/zero"]);
    expect(seen.open!.map((c) => c.name)).toEqual(["acme/one", "acme/zero"]);
    const b = sent[0]!.validated!.bindings[0]!;
    expect(Object.keys(b.constraints).sort()).toEqual(["id", "v"]);
    expect(b.projectionConstraints.map((p) => [p.field, p.constraint!.type, p.constraint!.foldedField])).toEqual([
      ["id", ConstraintType.LOCATION_REQUIRED, ""],
      ["v", ConstraintType.FIELD_OPTIONAL, "V"],
    ]);
    expect(b.constraints.v!.reason).toBe("a value");
  });

  it("names the binding whose collection_index is out of range", async () => {
    const { connector } = recordingMaterialization();
    await expect(
      runMaterialize(connector, [
        {
          validate: {
            name: "acme/mat",
            configJson: enc.encode("{}"),
            linkedCollections: [collection("acme/zero")],
            bindings: [{ resourceConfigJson: enc.encode('{"table":"a"}'), collectionIndex: 3 }],
          },
        },
      ]),
    ).rejects.toThrow(/binding 0 of materialize.Request.Validate has collection_index 3, but there are only 1 linked_collections/);
  });

  it("hands Flush's backfill begins and completes to the transactor", async () => {
    const { connector, seen } = recordingMaterialization();
    const at = { seconds: 1_700_000_000n, nanos: 0 };
    await runMaterialize(connector, [
      { open: { materialization: matSpecIndirect(), version: "v1" } },
      { acknowledge: {} },
      { flush: { backfillBegins: [{ binding: 1, timestamp: at }], backfillCompletes: [{ binding: 0 }] } },
      { startCommit: { runtimeCheckpoint: create(CheckpointSchema, {}) } },
    ]);
    expect(seen.flushes).toEqual([{ begins: [{ binding: 1, timestamp: new Date(1_700_000_000_000) }], completes: [{ binding: 0, timestamp: undefined }] }]);
  });

  it("refuses a Flush backfill event for a binding that does not exist", async () => {
    const { connector } = recordingMaterialization();
    await expect(
      runMaterialize(connector, [
        { open: { materialization: matSpecIndirect(), version: "v1" } },
        { acknowledge: {} },
        { flush: { backfillBegins: [{ binding: 7 }] } },
      ]),
    ).rejects.toThrow(/backfill names binding 7/);
  });
});

describe("capture under the newest runtime", () => {
  const capSpecIndirect = () =>
    create(CaptureSpecSchema, {
      name: "acme/hello",
      configJson: enc.encode("{}"),
      linkedCollections: [collection("acme/greetings")],
      bindings: [{ resourceConfigJson: enc.encode('{"name":"greetings"}'), resourcePath: ["greetings"], stateKey: "greetings", collectionIndex: 0 }],
    });

  it("resolves linked collections in Validate, Apply and Open; Apply gets state and may update it", async () => {
    const seen: string[] = [];
    let applyState: unknown;
    const connector: CaptureConnector = {
      ...helloWorld,
      async validate({ bindings }) {
        seen.push(`validate ${bindings.map((b) => b.collection.name)}`);
      },
      async apply({ bindings, state }) {
        seen.push(`apply ${bindings.map((b) => b.collection.name)}`);
        applyState = state;
        return { actionDescription: "moved the cursor", state: { updated: { cursor: 2 }, mergePatch: true } };
      },
      async open({ bindings }, out) {
        seen.push(`open ${bindings.map((b) => b.collection.name)}`);
        await out.opened();
      },
    };
    const sent = await runCapture(connector, [
      {
        validate: {
          name: "acme/hello",
          configJson: "{}",
          linkedCollections: [collection("acme/greetings")],
          bindings: [{ resourceConfigJson: '{"name":"greetings"}', collectionIndex: 0 }],
        },
      },
      { apply: { capture: capSpecIndirect(), version: "v1", stateJson: '{"cursor":1}' } },
      { open: { capture: capSpecIndirect(), version: "v1" } },
    ]);
    expect(seen).toEqual(["validate acme/greetings", "apply acme/greetings", "open acme/greetings"]);
    expect(applyState).toEqual({ cursor: 1 });
    const applied = sent[1]!.applied!;
    expect(applied.actionDescription).toBe("moved the cursor");
    expect(dec.decode(applied.state!.updatedJson)).toBe('{"cursor":2}');
    expect(applied.state!.mergePatch).toBe(true);
  });

  it("answers Apply with the same {actionDescription, state?} shape as materializations", async () => {
    const connector: CaptureConnector = { ...helloWorld, apply: async () => ({ actionDescription: "nothing to do" }) };
    const sent = await runCapture(connector, [{ apply: { capture: capSpecIndirect(), version: "v1" } }]);
    expect(sent[0]!.applied!.actionDescription).toBe("nothing to do");
    expect(sent[0]!.applied!.state).toBeUndefined();
  });

  it("refuses an Apply that returns a bare string, naming the shape to return", async () => {
    const connector = { ...helloWorld, apply: async () => "nothing to do" } as unknown as CaptureConnector;
    await expect(runCapture(connector, [{ apply: { capture: capSpecIndirect(), version: "v1" } }])).rejects.toThrow(
      /apply returned a string; return \{actionDescription/,
    );
  });

  it("declares fallback keys in Discovered and passes the capture's name to discover", async () => {
    let name = "";
    const connector: CaptureConnector = {
      ...helloWorld,
      async discover(_c, _ctx, info) {
        name = info?.name ?? "";
        return [
          { recommendedName: "keyed", resourceConfig: { name: "keyed" }, documentSchema: {}, key: ["/id"] },
          { recommendedName: "keyless", resourceConfig: { name: "keyless" }, documentSchema: {}, key: ["/_meta/row"], isFallbackKey: true },
        ];
      },
    };
    const sent = await runCapture(connector, [{ discover: { configJson: "{}", name: "acme/source" } }]);
    expect(name).toBe("acme/source");
    expect(sent[0]!.discovered!.bindings.map((b) => [b.recommendedName, b.isFallbackKey])).toEqual([
      ["keyed", false],
      ["keyless", true],
    ]);
  });

  it("sends each backfill marker alone in its checkpoint, committing pending documents first", async () => {
    const connector: CaptureConnector = {
      ...helloWorld,
      async open(_req, out) {
        await out.opened();
        await out.backfillBegin(0); // nothing pending: no extra checkpoint
        await out.document(0, { id: 1 });
        await out.document(0, { id: 2 });
        await out.backfillComplete(0, { updated: { done: true } });
        await out.document(0, { id: 3 });
        await out.checkpoint({ updated: { tail: 1 } });
      },
    };
    const sent = await runCapture(connector, [{ open: { capture: capSpecIndirect(), version: "v1" } }]);
    const shape = sent.map((r) => {
      if (r.opened) return "opened";
      if (r.captured) return `doc`;
      if (r.backfillBegin) return `begin ${r.backfillBegin.binding}`;
      if (r.backfillComplete) return `complete ${r.backfillComplete.binding}`;
      if (r.checkpoint) return `checkpoint ${dec.decode(r.checkpoint.state!.updatedJson)}`;
      return "?";
    });
    expect(shape).toEqual([
      "opened",
      "begin 0",
      "checkpoint {}",
      "doc",
      "doc",
      "checkpoint {}",
      "complete 0",
      'checkpoint {"done":true}',
      "doc",
      'checkpoint {"tail":1}',
    ]);
  });

  it("sends no markers to a runtime that names collections directly, only the checkpoints", async () => {
    const direct = create(CaptureSpecSchema, {
      name: "acme/hello",
      configJson: enc.encode("{}"),
      bindings: [{ resourceConfigJson: enc.encode('{"name":"greetings"}'), resourcePath: ["greetings"], stateKey: "greetings", collection: collection("acme/greetings") }],
    });
    const counts: number[] = [];
    const connector: CaptureConnector = {
      ...helloWorld,
      async open(_req, out) {
        await out.opened();
        await out.document(0, { id: 1 });
        counts.push(await out.backfillBegin(0, { updated: { begun: true } }));
        counts.push(await out.backfillComplete(0));
      },
    };
    const sent = await runCapture(connector, [{ open: { capture: direct, version: "v1" } }]);
    expect(sent.some((r) => r.backfillBegin || r.backfillComplete)).toBe(false);
    expect(sent.filter((r) => r.checkpoint).map((r) => dec.decode(r.checkpoint!.state!.updatedJson))).toEqual(['{"begun":true}', "{}"]);
    expect(counts).toEqual([1, 1]);
  });

  it("refuses a document sent while a backfill marker is being sent", async () => {
    const connector: CaptureConnector = {
      ...helloWorld,
      async open(_req, out) {
        await out.opened();
        const marker = out.backfillBegin(0);
        await out.document(0, { id: 1 });
        await marker;
      },
    };
    await expect(runCapture(connector, [{ open: { capture: capSpecIndirect(), version: "v1" } }])).rejects.toThrow(
      /document was sent while a backfill marker is being sent/,
    );
  });
});

describe("fields a newer runtime adds", () => {
  /** Appends a varint field `no` = 1 to a protobuf message. */
  function withUnknown(bytes: Uint8Array, no: number): Uint8Array {
    const tag: number[] = [];
    for (let v = no << 3; ; v >>>= 7) {
      if (v < 0x80) {
        tag.push(v);
        break;
      }
      tag.push((v & 0x7f) | 0x80);
    }
    return Uint8Array.from([...bytes, ...tag, 1]);
  }

  it("never fail a session, and are logged once at debug with their number", async () => {
    const lines: string[] = [];
    const log = createLogger({ level: "debug", write: (l) => lines.push(l) });
    // An unknown field inside Validate.Binding, sent twice; and a request
    // whose only message is one we do not know (field 77).
    const validate = create(cap.RequestSchema, {
      validate: { name: "acme/hello", configJson: "{}", bindings: [{ resourceConfigJson: '{"name":"a"}', collection: collection("acme/a") }] },
    });
    const binding = toBinary(cap.Request_Validate_BindingSchema, validate.validate!.bindings[0]!);
    const withField = fromBinary(cap.Request_Validate_BindingSchema, withUnknown(binding, 41));
    validate.validate!.bindings = [withField];
    const decoded = fromBinary(cap.RequestSchema, toBinary(cap.RequestSchema, validate));
    const newVariant = fromBinary(cap.RequestSchema, withUnknown(new Uint8Array(0), 77));
    const sent = await runCapture(helloWorld, [decoded, newVariant, decoded], log);
    expect(sent.map((r) => r.validated?.bindings[0]?.resourcePath)).toEqual([["a"], ["a"]]);
    const notes = lines.map((l) => JSON.parse(l)).filter((l) => l.msg.includes("does not know"));
    expect(notes.map((n) => [n.level, n.message, n.field])).toEqual([
      ["debug", "capture.Request.Validate.Binding", 41],
      ["debug", "capture.Request", 77],
    ]);
  });
});
