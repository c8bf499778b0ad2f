/**
 * Captured documents sent in batches (CaptureOutput.documents, the sink's
 * sendCapturedBatch): over stdio the frames are byte for byte those of the
 * same documents sent one by one with document(), in both wires, for edge
 * and seeded random batches (empty and large documents, non-ASCII text,
 * JSON the line codec must hand to its generic path, a document larger than
 * the sink's batch threshold, bindings 0 and above 127); the metrics count
 * them alike; a batch whose ends do not split its bytes is refused; a
 * sendDocuments() to an output without documents() sends them one by one,
 * and so does documents() over a sink without the batch path (as gRPC's).
 */
import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { RequestSchema, ResponseSchema, type Request, type Response } from "../../src/gen/capture/capture_pb.js";
import { messageCodec } from "../../src/codec/wire.js";
import { FrameDecoder, FrameWriter } from "../../src/codec/frames.js";
import { RawJsonBytes, type CaptureConnector, type CaptureOutput } from "../../src/sdk/types.js";
import { runCaptureSession, sendDocuments, SENT } from "../../src/sdk/capture.js";
import { RecordingSink, RequestFeed } from "../support/sessions.js";
import { createLogger } from "../../src/log.js";
import { randomDocs, rng } from "../support/rng.js";
import { runOnStdio, runSucceeding, type Wire } from "../support/stdio-run.js";

const enc = new TextEncoder();
const BINDINGS = 200;

/** One batch: a binding and its documents' texts. */
type Batch = [number, string[]];

function batches(): Batch[] {
  const r = rng(1515);
  const out: Batch[] = [
    [0, ['{"a":1,"s":"é ✓ 😀"}', "{}", ""]],
    [1, ['{\n  "b": [1, 2]\n}', " [3]", '{"c":null}']],
    [199, ['{"big":"' + "x".repeat(3_000_000) + '"}', '{"after":"big"}']],
    [2, []],
    [130, [""]],
  ];
  for (let k = 0; k < 300; k++) {
    const docs = randomDocs(r);
    out.push([[0, 1, 127, 128, 199][r(5)]!, docs]);
  }
  return out;
}

/** The batch's documents in one buffer and their ends. */
function packed(docs: string[]): { bytes: Uint8Array; ends: Int32Array } {
  const parts = docs.map((d) => enc.encode(d));
  const ends = new Int32Array(parts.length + 3); // longer than the count: only `count` ends are read
  let n = 0;
  parts.forEach((p, k) => (ends[k] = n += p.length));
  const bytes = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return { bytes, ends };
}

function capture(send: (out: CaptureOutput) => Promise<void>): CaptureConnector {
  return {
    protocol: "capture",
    name: "batches",
    configSchema: { type: "object" },
    resourceConfigSchema: { type: "object" },
    documentationUrl: "https://example.com",
    resourcePathPointers: ["/name"],
    discover: async () => [],
    async open(_req, out) {
      await out.opened();
      await send(out);
      await out.checkpoint({ updated: { done: true } });
    },
  };
}

function openFrame(wire: "proto" | "json"): Uint8Array {
  const w = new FrameWriter(wire);
  const bindings = Array.from({ length: BINDINGS }, (_, i) => ({
    resourceConfigJson: enc.encode(`{"name":"r${i}"}`),
    resourcePath: [`r${i}`],
    stateKey: `r${i}`,
    collection: { name: `t/r${i}`, key: ["/id"] },
  }));
  w.append(messageCodec(RequestSchema, wire).encode(create(RequestSchema, { open: { capture: { name: "t/batches", configJson: enc.encode("{}"), bindings } } })));
  return w.take();
}

/** The connector run on this file's requests, which must succeed. */
const run = (wire: Wire, connector: CaptureConnector) => runSucceeding(wire, connector, openFrame(wire));

describe.each(["proto", "json"] as const)("stdio Captured batches (%s)", (wire) => {
  it("frame exactly the bytes of the same documents sent one by one, and count alike", async () => {
    const all = batches();
    const one = await run(
      wire,
      capture(async (out) => {
        for (const [binding, docs] of all) for (const d of docs) await out.document(binding, new RawJsonBytes(enc.encode(d)));
      }),
    );
    const batched = await run(
      wire,
      capture(async (out) => {
        for (const [binding, docs] of all) {
          const { bytes, ends } = packed(docs);
          await out.documents!(binding, bytes, ends, docs.length);
        }
      }),
    );
    const frames = (b: Buffer) => new FrameDecoder(wire).push(b).map((f) => Buffer.from(f).toString("hex"));
    const expected = frames(one.out);
    // Opened, every document, the checkpoint.
    expect(expected.length).toBe(2 + all.reduce((n, [, d]) => n + d.length, 0));
    const got = frames(batched.out);
    expect(got.length).toBe(expected.length);
    expect(got).toEqual(expected);
    expect(batched.out.equals(one.out)).toBe(true);
    // The documents decode to the texts sent.
    const codec = messageCodec(ResponseSchema, wire);
    const firsts = new FrameDecoder(wire).push(batched.out).slice(1, 4).map((f) => codec.decode(f).captured!);
    expect(firsts.map((c) => [c.binding, c.docJson])).toEqual([[0, '{"a":1,"s":"é ✓ 😀"}'], [0, "{}"], [0, ""]]);
    expect(batched.summary.documents).toEqual(one.summary.documents);
    expect(batched.summary.bytes).toEqual(one.summary.bytes);
  });

  it("refuses a batch whose ends do not split its bytes, and a binding the capture does not have", async () => {
    for (const [ends, count, binding, error] of [
      [[3, 5], 2, 0, /ends at 5, not at its 6 bytes/],
      [[4, 2, 6], 3, 0, /document 1 ends at 2, before it starts \(4\)/],
      [[6], 2, 0, /a batch of 2 documents with 1 ends/],
      [[], 0, 0, /ends at 0, not at its 6 bytes/],
      [[6], 1, BINDINGS, /names binding 200/],
    ] as const) {
      const errors: string[] = [];
      const logged = createLogger({ level: "error", write: (line) => void errors.push(line) });
      const bad = capture((out) => out.documents!(binding, enc.encode("{}{}{}"), ends, count));
      const { code, out } = await runOnStdio(wire, bad, openFrame(wire), logged);
      expect(code).toBe(1);
      expect(errors.join("\n")).toMatch(error);
      // Nothing but Opened went out.
      expect(new FrameDecoder(wire).push(out).length).toBe(1);
    }
  });
});

describe("documents() over a sink without the batch path (as gRPC's)", () => {
  it("sends each document as document() would, then commits them with the checkpoint", async () => {
    const all = batches().slice(0, 40).filter(([binding]) => binding < 3);
    const sessionOf = (send: (out: CaptureOutput) => Promise<void>) => {
      const feed = new RequestFeed<Request>();
      const sink = new RecordingSink<Response>();
      const spec = { name: "t/batches", configJson: enc.encode("{}"), bindings: [0, 1, 2].map((i) => ({ resourceConfigJson: enc.encode(`{"name":"r${i}"}`), resourcePath: [`r${i}`], stateKey: `r${i}`, collection: { name: `t/r${i}`, key: ["/id"] } })) };
      feed.push(create(RequestSchema, { open: { capture: spec } }));
      feed.end();
      return runCaptureSession(capture(send), feed, sink, { log: createLogger({ level: "error" }) }).then(() => sink.sent);
    };
    const one = await sessionOf(async (out) => {
      for (const [binding, docs] of all) for (const d of docs) await out.document(binding, new RawJsonBytes(enc.encode(d)));
    });
    const batched = await sessionOf(async (out) => {
      for (const [binding, docs] of all) {
        const { bytes, ends } = packed(docs);
        await out.documents!(binding, bytes, ends, docs.length);
      }
    });
    const captured = (sent: Response[]) => sent.filter((r) => r.captured).map((r) => [r.captured!.binding, r.captured!.docJson]);
    expect(captured(batched)).toEqual(all.flatMap(([binding, docs]) => docs.map((d) => [binding, d])));
    expect(captured(batched)).toEqual(captured(one));
    expect(batched.map((r) => r.$typeName + (r.checkpoint ? ":checkpoint" : ""))).toEqual(one.map((r) => r.$typeName + (r.checkpoint ? ":checkpoint" : "")));
    expect(batched.at(-1)!.checkpoint).toBeDefined();
  });
});

describe("sendDocuments", () => {
  it("sends a batch document by document to an output without documents(), waiting where it asks to", async () => {
    const sent: Array<[number, string]> = [];
    let waits = 0;
    const out = {
      document(binding: number, doc: unknown) {
        sent.push([binding, Buffer.from((doc as RawJsonBytes).bytes).toString("utf8")]);
        if (sent.length % 3 !== 0) return SENT;
        waits++;
        return new Promise<void>((r) => setTimeout(r, 1));
      },
    } as unknown as CaptureOutput;
    const docs = ['{"a":1}', "{}", '{"é":"😀"}', "[1]", "", '{"b":2}', "{}"];
    const { bytes, ends } = packed(docs);
    const p = sendDocuments(out, 4, bytes, ends, docs.length);
    // The batch's ends are the caller's again once the call returns: later documents must not read them.
    ends.fill(-1);
    await p;
    expect(sent).toEqual(docs.map((d) => [4, d]));
    expect(waits).toBe(2);
    // Nothing to wait for: the settled SENT itself.
    expect(sendDocuments(out, 0, new Uint8Array(0), [], 0)).toBe(SENT);
  });
});
