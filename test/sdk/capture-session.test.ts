import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { RequestSchema, type Request, type Response } from "../../src/gen/capture/capture_pb.js";
import { CaptureSpecSchema } from "../../src/gen/flow/flow_pb.js";
import { runCaptureSession } from "../../src/sdk/capture.js";
import type { CaptureConnector, CaptureOutput } from "../../src/sdk/types.js";
import helloWorld from "../../connectors/source-hello-world/connector.js";
import { createLogger } from "../../src/log.js";
import { RecordingSink, RequestFeed } from "../support/sessions.js";

const enc = new TextEncoder();
const dec = new TextDecoder();
const log = createLogger({ level: "error" });
const req = (r: object): Request => create(RequestSchema, r as never);

function captureSpec(config: object, names = ["greetings"]) {
  return create(CaptureSpecSchema, {
    name: "acme/hello",
    configJson: enc.encode(JSON.stringify(config)),
    bindings: names.map((name) => ({
      resourceConfigJson: enc.encode(JSON.stringify({ name })),
      resourcePath: [name],
      stateKey: name,
      collection: { name: `acme/${name}`, key: ["/count"] },
    })),
  });
}

function start(connector: CaptureConnector) {
  const feed = new RequestFeed<Request>();
  const sink = new RecordingSink<Response>();
  const done = runCaptureSession(connector, feed, sink, { log });
  return { feed, sink, done };
}

/** A capture whose open() is scripted by the test. */
function scripted(body: (out: CaptureOutput, signal: AbortSignal) => Promise<void>): CaptureConnector {
  return { ...helloWorld, open: async (_req, out, ctx) => body(out, ctx.signal) };
}

describe("capture session", () => {
  it("answers Spec, Discover and Validate", async () => {
    const { feed, sink, done } = start(helloWorld);
    feed.push(
      req({ spec: { connectorType: 7 } }),
      req({ discover: { configJson: "{}" } }),
      req({ validate: { name: "acme/hello", configJson: '{"rate":5}', bindings: [{ resourceConfigJson: '{"name":"a"}', collection: { name: "acme/a" } }] } }),
    );
    feed.end();
    await done;
    const spec = sink.sent[0]!.spec!;
    expect(spec.protocol).toBe(3032023);
    expect(spec.resourcePathPointers).toEqual(["/name"]);
    expect(JSON.parse(spec.configSchemaJson).properties.rate.type).toBe("number");
    const b = sink.sent[1]!.discovered!.bindings[0]!;
    expect([b.recommendedName, b.key, b.resourcePath]).toEqual(["greetings", ["/count"], ["greetings"]]);
    expect(sink.sent[2]!.validated!.bindings[0]!.resourcePath).toEqual(["a"]);
  });

  it("rejects two bindings of the same resource", async () => {
    const { feed, done } = start(helloWorld);
    const binding = { resourceConfigJson: '{"name":"a"}', collection: { name: "acme/a" } };
    feed.push(req({ validate: { name: "x", configJson: "{}", bindings: [binding, binding] } }));
    feed.end();
    await expect(done).rejects.toThrow(/bindings 0 and 1 both capture resource a/);
  });

  it("streams greetings with checkpoints and resumes from state", async () => {
    const { feed, sink, done } = start(helloWorld);
    feed.push(req({ open: { capture: captureSpec({ rate: 0, perCheckpoint: 2 }), stateJson: '{"bindingStateV1":{"greetings":{"count":41}}}' } }));
    await sink.waitFor(7);
    feed.end();
    await done;
    expect(sink.sent[0]!.opened).toBeDefined();
    const docs = sink.sent.filter((r) => r.captured).map((r) => JSON.parse(r.captured!.docJson));
    expect(docs.slice(0, 4)).toEqual([
      { count: 42, message: "Hello #42" },
      { count: 43, message: "Hello #43" },
      { count: 44, message: "Hello #44" },
      { count: 45, message: "Hello #45" },
    ]);
    const cp = sink.sent[3]!.checkpoint!.state!;
    expect(cp.mergePatch).toBe(true);
    expect(JSON.parse(dec.decode(cp.updatedJson))).toEqual({ bindingStateV1: { greetings: { count: 43 } } });
  });

  it("counts explicit acknowledgements and refuses too many", async () => {
    const acks: number[] = [];
    const { feed, sink, done } = start(
      scripted(async (out, signal) => {
        out.onAcknowledge((n) => void acks.push(n));
        await out.opened({ explicitAcknowledgements: true });
        await out.checkpoint({ updated: { a: 1 } });
        await out.checkpoint({ updated: { a: 2 } });
        await new Promise((r) => signal.addEventListener("abort", r));
      }),
    );
    feed.push(req({ open: { capture: captureSpec({}) } }));
    await sink.waitFor(3);
    feed.push(req({ acknowledge: { checkpoints: 1 } }), req({ acknowledge: {} }), req({ acknowledge: { checkpoints: 1 } }));
    await expect(done).rejects.toThrow("capture.Request.Acknowledge of 1 checkpoints, but only 0 are pending");
    expect(acks).toEqual([1, 1]);
  });

  it.each([
    ["Acknowledge without explicit acknowledgements", async (out: CaptureOutput, s: AbortSignal) => { await out.opened(); await out.checkpoint({ updated: {} }); await new Promise((r) => s.addEventListener("abort", r)); }, [req({ acknowledge: { checkpoints: 1 } })], /did not ask for explicit acknowledgements/],
    ["a document before opened()", async (out: CaptureOutput) => { await out.document(0, {}); }, [], /before opened\(\)/],
    ["a checkpoint without state", async (out: CaptureOutput) => { await out.opened(); await out.checkpoint({} as never); }, [], /a checkpoint must carry state/],
    ["a document of an unknown binding", async (out: CaptureOutput) => { await out.opened(); await out.document(3, {}); }, [], /names binding 3, but the capture has 1 bindings/],
    ["open() returning without opened()", async () => {}, [], /returned without calling out.opened\(\)/],
    ["a second Open", async (out: CaptureOutput, s: AbortSignal) => { await out.opened(); await new Promise((r) => s.addEventListener("abort", r)); }, [req({ open: {} })], /capture.Request.Open is not allowed during an open capture session/],
  ])("fails on %s", async (_name, body, more, error) => {
    const { feed, done } = start(scripted(body as never));
    feed.push(req({ open: { capture: captureSpec({}) } }), ...(more as Request[]));
    await expect(done).rejects.toThrow(error);
  });

  it("out.document always returns a promise: settled when the sink takes it at once, rejected (not thrown) on misuse", async () => {
    const seen: { returned: unknown; misuse: unknown; thrown: boolean } = { returned: undefined, misuse: undefined, thrown: false };
    const { feed, sink, done } = start(
      scripted(async (out) => {
        await out.opened();
        seen.returned = out.document(0, { count: 1 });
        await seen.returned;
        try {
          seen.misuse = out.document(7, {});
        } catch {
          seen.thrown = true;
        }
        await (seen.misuse as Promise<void>).catch(() => undefined);
        await out.checkpoint({ updated: {} });
      }),
    );
    feed.push(req({ open: { capture: captureSpec({}) } }));
    feed.end();
    await done;
    // RecordingSink.send returns nothing: no backpressure, yet a promise comes back.
    expect(seen.returned).toBeInstanceOf(Promise);
    expect(seen.thrown).toBe(false);
    await expect(seen.misuse as Promise<void>).rejects.toThrow(/names binding 7, but the capture has 1 bindings/);
    expect(sink.sent.filter((r) => r.captured)).toHaveLength(1);
  });

  it("rejects Acknowledge before Open", async () => {
    const { feed, done } = start(helloWorld);
    feed.push(req({ acknowledge: { checkpoints: 1 } }));
    await expect(done).rejects.toThrow("capture.Request.Acknowledge is only valid after Open");
  });
});
