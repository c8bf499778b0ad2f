/**
 * Loads as batches of key bytes (LoadIterator.batches) and the fast-decoded
 * requests that feed them: the batches carry exactly the Loads the
 * per-request iterator gives, in order, whichever decoder built them.
 */
import { describe, expect, it } from "vitest";
import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { RequestSchema, type Request, type Response } from "../../src/gen/materialize/materialize_pb.js";
import { CheckpointSchema } from "../../src/gen/consumer/protocol/protocol_pb.js";
import { messageCodec } from "../../src/codec/wire.js";
import { isFastDecoded } from "../../src/codec/fast-decode.js";
import { loadKeyText, runMaterializeSession } from "../../src/sdk/materialize.js";
import { createLogger } from "../../src/log.js";
import { RecordingSink, RequestFeed } from "../support/sessions.js";
import { rng } from "../support/rng.js";
import type { MaterializeConnector } from "../../src/sdk/types.js";
import { bindingsSpec, transactorConnector } from "../support/transactor-connector.js";

const enc = new TextEncoder();
const log = createLogger({ level: "error" });
const proto = messageCodec(RequestSchema, "proto");
const json = messageCodec(RequestSchema, "json");
const req = (r: object): Request => create(RequestSchema, r as never);

const spec = bindingsSpec(2);

type Seen = Array<[number, string, string]>;

/** A connector whose transactor records the Loads it reads, as batches or one by one. */
function recorder(form: "batches" | "requests") {
  const seen: Seen = [];
  let batches = 0;
  const connector = transactorConnector("recorder", () => ({
    async acknowledge() {},
    async load(it) {
      if (form === "batches") {
        for await (const b of it.batches!()) {
          batches++;
          for (let i = 0; i < b.keys.length; i++) seen.push([b.bindings[i]!, loadKeyText(b.keys[i]!), Buffer.from(b.packed[i]!).toString("hex")]);
        }
      } else {
        for await (const l of it) seen.push([l.binding, l.keyJson, Buffer.from(l.keyPacked).toString("hex")]);
      }
    },
    async store(it) {
      for await (const _ of it);
      return async () => undefined;
    },
  }));
  return { connector, seen, batches: () => batches };
}

/** Edge keys and seeded random ones, as (binding, key bytes, packed bytes). */
function keys(): Array<[number, Uint8Array, Uint8Array]> {
  const r = rng(5);
  const out: Array<[number, Uint8Array, Uint8Array]> = [
    [0, enc.encode("[1]"), new Uint8Array()],
    [1, enc.encode('["it\'s \\"q\\" é😀",null]'), new Uint8Array([1, 2, 3])],
    [0, new Uint8Array([0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d]), new Uint8Array()], // invalid UTF-8
    [1, enc.encode("\uFEFF[2]"), new Uint8Array()], // a leading BOM is kept
    [0, new Uint8Array(), new Uint8Array()],
    [1, enc.encode("[9223372036854775807123]"), new Uint8Array([0])],
  ];
  for (let i = 0; i < 5000; i++) out.push([r(2), enc.encode(JSON.stringify([r(1_000_000), "ab\\\"'é😀"[r(7)]])), r(4) ? new Uint8Array() : new Uint8Array([r(256)])]);
  return out;
}

/**
 * One transaction's Loads, as the stdio transport hands them over: arrays
 * of decoded requests. Most come from the codec's fast path; every 7th is
 * a message made by create(), which the reader classifies the general way.
 */
function loadRequests(wire: "proto" | "json"): Request[][] {
  const codec = wire === "proto" ? proto : json;
  const all = keys().map(([binding, keyJson, keyPacked], i) => {
    const msg = req({ load: { binding, keyJson, keyPacked } });
    // JSON cannot carry key bytes that are not JSON: those come as messages.
    if (i % 7 === 0 || (wire === "json" && (keyJson.length === 0 || !isJsonKey(keyJson)))) return msg;
    return codec.decode(codec.encode(msg));
  });
  const arrays: Request[][] = [];
  for (let i = 0; i < all.length; i += 1500) arrays.push(all.slice(i, i + 1500));
  return arrays;
}

function isJsonKey(b: Uint8Array): boolean {
  try {
    JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(b));
    return b[0] === 0x5b;
  } catch {
    return false;
  }
}

async function session(connector: MaterializeConnector, loads: Request[][]): Promise<Response[]> {
  const feed = new RequestFeed<Request | Request[]>();
  const sink = new RecordingSink<Response>();
  const done = runMaterializeSession(connector, feed as never, sink, { log });
  feed.push(req({ open: { materialization: spec, version: "v1" } }), req({ acknowledge: {} }));
  for (const a of loads) feed.push(a);
  feed.push(req({ flush: {} }), req({ startCommit: { runtimeCheckpoint: create(CheckpointSchema, {}) } }));
  feed.end();
  await done;
  return sink.sent;
}

describe("Load batches", () => {
  it("marks the requests the fast decoders build, and only those", () => {
    const load = req({ load: { binding: 3, keyJson: enc.encode("[1]") } });
    const store = req({ store: { binding: 1, keyJson: enc.encode("[1]"), docJson: enc.encode("{}") } });
    for (const codec of [proto, json]) {
      for (const msg of [load, store]) {
        const fast = codec.decode(codec.encode(msg));
        expect(isFastDecoded(fast)).toBe(true);
        expect(equals(RequestSchema, fast, msg)).toBe(true);
      }
      expect(isFastDecoded(codec.decode(codec.encode(req({ flush: {} }))))).toBe(false);
    }
    expect(isFastDecoded(load)).toBe(false);
    // An unknown field sends the payload the general way, which keeps it: no mark.
    const withUnknown = Buffer.concat([Buffer.from(toBinary(RequestSchema, load)), Buffer.from([0xf8, 0x07, 0x01])]);
    const decoded = proto.decode(withUnknown);
    expect(isFastDecoded(decoded)).toBe(false);
    expect(equals(RequestSchema, decoded, fromBinary(RequestSchema, withUnknown))).toBe(true);
  });

  for (const wire of ["proto", "json"] as const) {
    it(`hands over the same Loads as the per-request iterator, in order (${wire})`, async () => {
      const loads = loadRequests(wire);
      const fast = loads.flat().filter(isFastDecoded).length;
      expect(fast).toBeGreaterThan(4000);
      const want: Seen = keys().map(([b, k, p]) => [b, loadKeyText(k), Buffer.from(p).toString("hex")]);

      const asBatches = recorder("batches");
      await session(asBatches.connector, loads);
      expect(asBatches.seen).toEqual(want);
      // Fast-decoded Loads were gathered without a round trip each: far fewer batches than Loads.
      expect(asBatches.batches()).toBeLessThan(want.length / 100);

      const asRequests = recorder("requests");
      await session(asRequests.connector, loads);
      expect(asRequests.seen).toEqual(want);
    });
  }
});
