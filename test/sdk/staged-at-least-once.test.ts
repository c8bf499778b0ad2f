import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { RequestSchema, type Request, type Response } from "../../src/gen/materialize/materialize_pb.js";
import { MaterializationSpecSchema, CollectionSpecSchema } from "../../src/gen/flow/flow_pb.js";
import { CheckpointSchema } from "../../src/gen/consumer/protocol/protocol_pb.js";
import { runMaterializeSession } from "../../src/sdk/materialize.js";
import { AT_LEAST_ONCE_DESCRIPTION, atLeastOnceTransactor, labelAtLeastOnce } from "../../src/sdk/at-least-once.js";
import type { MaterializeConnector } from "../../src/sdk/types.js";
import { createLogger } from "../../src/log.js";
import { RecordingSink, RequestFeed } from "../support/sessions.js";

const enc = new TextEncoder();
const log = createLogger({ level: "error" });
const req = (r: object): Request => create(RequestSchema, r as never);
const spec = create(MaterializationSpecSchema, {
  name: "acme/mat",
  configJson: enc.encode("{}"),
  bindings: [{ resourceConfigJson: enc.encode("{}"), resourcePath: ["t"], deltaUpdates: true, collection: create(CollectionSpecSchema, { name: "c", key: ["/id"] }) }],
});
const store = (id: number) => req({ store: { binding: 0, keyJson: enc.encode(`[${id}]`), docJson: enc.encode(`{"id":${id}}`) } });
const startCommit = () => req({ startCommit: { runtimeCheckpoint: create(CheckpointSchema, {}) } });

function pushConnector(sent: string[]): MaterializeConnector {
  return {
    protocol: "materialize",
    name: "push",
    documentationUrl: "",
    configSchema: labelAtLeastOnce({ type: "object", description: "Pushes documents." }),
    resourceConfigSchema: { type: "object" },
    validate: async () => [],
    apply: async () => ({ actionDescription: "" }),
    open: async () => ({
      transactor: atLeastOnceTransactor({
        async write(it) {
          for await (const s of it) sent.push(s.docJson);
        },
      }),
    }),
  };
}

describe("atLeastOnceTransactor", () => {
  it("writes before StartedCommit, keeps no state, and a replayed transaction is written again", async () => {
    const sent: string[] = [];
    const run = async (reqs: Request[]) => {
      const feed = new RequestFeed<Request>();
      const sink = new RecordingSink<Response>();
      const done = runMaterializeSession(pushConnector(sent), feed, sink, { log });
      feed.push(...reqs);
      feed.end();
      await done;
      return sink.sent;
    };
    const txn = [req({ open: { materialization: spec } }), req({ acknowledge: {} }), req({ flush: {} }), store(1), store(2), startCommit()];
    const first = await run(txn);
    expect(sent).toEqual(['{"id":1}', '{"id":2}']);
    expect(first.every((r) => !r.startedCommit?.state && !r.acknowledged?.state)).toBe(true);
    // The runtime never acknowledged: it re-runs the transaction, which the
    // destination receives a second time.
    await run(txn);
    expect(sent).toEqual(['{"id":1}', '{"id":2}', '{"id":1}', '{"id":2}']);
  });

  it("labels the schema's description with the caveat", () => {
    const s = labelAtLeastOnce({ type: "object", description: "Pushes documents." });
    expect(s.description).toBe(`${AT_LEAST_ONCE_DESCRIPTION} Pushes documents.`);
    expect(s.description).toMatch(/^AT-LEAST-ONCE: /);
  });
});
