/**
 * Stores taken from the reader's buffer without classifying each (the
 * fast-decoded ones, see RequestReader.takeBuffered) reach the transactor
 * exactly as Stores read the general way, in order.
 */
import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { RequestSchema, type Request, type Response } from "../../src/gen/materialize/materialize_pb.js";
import { CheckpointSchema } from "../../src/gen/consumer/protocol/protocol_pb.js";
import { messageCodec } from "../../src/codec/wire.js";
import { isFastDecoded } from "../../src/codec/fast-decode.js";
import { docBytes, runMaterializeSession } from "../../src/sdk/materialize.js";
import { createLogger } from "../../src/log.js";
import { RecordingSink, RequestFeed } from "../support/sessions.js";
import { rng } from "../support/rng.js";
import { bindingsSpec, transactorConnector } from "../support/transactor-connector.js";

const enc = new TextEncoder();
const req = (r: object): Request => create(RequestSchema, r as never);
const spec = bindingsSpec(2, ["v"]);

function recorder() {
  const seen: string[] = [];
  const connector = transactorConnector("recorder", () => ({
    async acknowledge() {},
    async store(it) {
      for await (const s of it) {
        const bytes = docBytes(s);
        seen.push(JSON.stringify([s.binding, s.keyJson, s.valuesJson, bytes ? Buffer.from(bytes).toString("hex") : s.docJson, s.exists, s.delete, [...s.keyPacked]]));
      }
      return async () => undefined;
    },
  }));
  return { connector, seen };
}

describe("Stores taken from the buffer", () => {
  for (const wire of ["proto", "json"] as const) {
    it(`reach the transactor as Stores read the general way (${wire})`, async () => {
      const codec = messageCodec(RequestSchema, wire);
      const r = rng(11);
      const stores = Array.from({ length: 3000 }, (_, i) => ({
        binding: r(2),
        keyJson: enc.encode(JSON.stringify([i, "k'\"é"])),
        keyPacked: new Uint8Array(r(3) ? [] : [r(256)]),
        valuesJson: enc.encode(JSON.stringify([r(1000), null])),
        docJson: enc.encode(JSON.stringify({ id: i, s: "😀\\\"".repeat(r(4)) })),
        exists: r(2) === 1,
        delete: r(5) === 0,
      }));
      // Every 5th a message made by create(), read the general way; the rest fast-decoded.
      const msgs = stores.map((s, i) => (i % 5 === 0 ? req({ store: s }) : codec.decode(codec.encode(req({ store: s })))));
      expect(msgs.filter(isFastDecoded).length).toBe(2400);
      const want = stores.map((s) => JSON.stringify([s.binding, new TextDecoder().decode(s.keyJson), new TextDecoder().decode(s.valuesJson), Buffer.from(s.docJson).toString("hex"), s.exists, s.delete, [...s.keyPacked]]));

      const { connector, seen } = recorder();
      const feed = new RequestFeed<Request | Request[]>();
      const sink = new RecordingSink<Response>();
      const done = runMaterializeSession(connector, feed as never, sink, { log: createLogger({ level: "error" }) });
      feed.push(req({ open: { materialization: spec, version: "v1" } }), req({ acknowledge: {} }), req({ flush: {} }));
      for (let i = 0; i < msgs.length; i += 700) feed.push(msgs.slice(i, i + 700) as never);
      feed.push(req({ startCommit: { runtimeCheckpoint: create(CheckpointSchema, {}) } }));
      feed.end();
      await done;
      expect(seen).toEqual(want);
    });
  }
});
