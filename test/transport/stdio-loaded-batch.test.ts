/**
 * Loaded documents sent in batches (the SDK's loadedBatch(), the sink's
 * sendLoadedBatch): over stdio the frames are byte for byte those of the
 * same documents sent one by one with loaded(), in both wires, for edge and
 * seeded random batches (spans with bytes between them, empty and large
 * documents, non-ASCII text, JSON the line codec must hand to its generic
 * path, spans out of order, bindings 0 and above 127); the metrics count
 * them alike. loadedBatch() with a loaded() that is not the session's sends
 * the documents one by one, intact when loaded() makes it wait and the
 * caller reuses its buffer and spans once loadedBatch() returned; a span
 * outside the bytes is refused.
 */
import { describe, expect, it } from "vitest";
import { FrameWriter } from "../../src/codec/frames.js";
import { docFramer, docSpansFramer } from "../../src/codec/fast-encode.js";
import { ResponseSchema } from "../../src/gen/materialize/materialize_pb.js";
import { RawJsonBytes, type MaterializeConnector } from "../../src/sdk/types.js";
import { loadedBatch } from "../../src/sdk/materialize.js";
import { createLogger } from "../../src/log.js";
import { randomDocs, rng } from "../support/rng.js";
import { bindingsSpec, transactorConnector } from "../support/transactor-connector.js";
import { oneLoadTransaction, runOnStdio, runSucceeding, type Wire } from "../support/stdio-run.js";

const enc = new TextEncoder();
const BINDINGS = 200;
const spec = bindingsSpec(BINDINGS);

/** One batch: a binding, its documents' bytes in one buffer with other bytes between them, and their spans (in `order`). */
interface Batch {
  binding: number;
  bytes: Uint8Array;
  starts: Int32Array;
  ends: Int32Array;
  count: number;
}

function packed(binding: number, docs: string[], r: (n: number) => number, shuffled = false): Batch {
  const parts = docs.map((d) => enc.encode(d));
  const gaps = parts.map(() => r(20));
  const total = parts.reduce((n, p, k) => n + p.length + gaps[k]!, 0) + r(10);
  const bytes = new Uint8Array(total).fill(0x7b); // `{`: bytes between documents that are not theirs
  // Longer than the count: only `count` spans are read.
  const starts = new Int32Array(parts.length + 3).fill(-7);
  const ends = new Int32Array(parts.length + 3).fill(-7);
  const at: number[] = [];
  let pos = 0;
  parts.forEach((p, k) => {
    pos += gaps[k]!;
    at.push(pos);
    bytes.set(p, pos);
    pos += p.length;
  });
  // Spans out of order (the framer's one-pass copy refuses them; the batch is framed document by document).
  const order = parts.map((_, k) => k);
  if (shuffled) order.reverse();
  order.forEach((k, i) => {
    starts[i] = at[k]!;
    ends[i] = at[k]! + parts[k]!.length;
  });
  return { binding, bytes, starts, ends, count: parts.length };
}

function batches(): Batch[] {
  const r = rng(1717);
  const out: Batch[] = [
    packed(0, ['{"a":1,"s":"é ✓ 😀"}', "{}", ""], r),
    packed(1, ['{\n  "b": [1, 2]\n}', " [3]", '{"c":null}'], r),
    packed(199, ['{"big":"' + "x".repeat(3_000_000) + '"}', '{"after":"big"}'], r),
    packed(2, [], r),
    packed(130, [""], r),
    packed(3, ['{"z":3}', '{"y":2}', '{"x":1}'], r, true),
  ];
  for (let k = 0; k < 300; k++) {
    const docs = randomDocs(r);
    out.push(packed([0, 1, 127, 128, 199][r(5)]!, docs, r, r(10) === 0));
  }
  return out;
}

/** Document i of a batch, as a copy. */
const docOf = (b: Batch, i: number) => b.bytes.slice(b.starts[i]!, b.ends[i]!);

/** A materialization whose one Load is answered by `answer`. */
function answering(answer: (loaded: (binding: number, doc: unknown) => void | Promise<void>) => Promise<void>): MaterializeConnector {
  return transactorConnector("answering", () => ({
    async acknowledge() {},
    async load(it, loaded) {
      await it.committed();
      for await (const _ of it);
      await answer(loaded);
    },
    async store(it) {
      for await (const _ of it);
      return async () => undefined;
    },
  }));
}

/** The connector run on this file's requests, which must succeed. */
const run = (wire: Wire, connector: MaterializeConnector) => runSucceeding(wire, connector, oneLoadTransaction(wire, spec));

describe.each(["proto", "json"] as const)("stdio Loaded batches (%s)", (wire) => {
  it("frame exactly the bytes of the same documents sent one by one, and count alike", async () => {
    const all = batches();
    const one = await run(
      wire,
      answering(async (loaded) => {
        for (const b of all) for (let i = 0; i < b.count; i++) await loaded(b.binding, new RawJsonBytes(docOf(b, i)));
      }),
    );
    const batched = await run(
      wire,
      answering(async (loaded) => {
        for (const b of all) {
          await loadedBatch(loaded, b.binding, b.bytes, b.starts, b.ends, b.count);
          // Taken before it returned: overwriting the buffer and the spans changes nothing sent.
          b.bytes.fill(0x30);
          b.starts.fill(0);
          b.ends.fill(0);
        }
      }),
    );
    const docs = all.reduce((n, b) => n + b.count, 0);
    expect(docs).toBeGreaterThan(20_000);
    expect(batched.out.length).toBeGreaterThan(3_000_000);
    expect(batched.out.equals(one.out)).toBe(true);
    expect(batched.summary).toEqual(one.summary);
    expect(batched.summary.documents["loaded/199"]).toBeGreaterThan(2);
  });

  it("refuses a span outside the batch's bytes", async () => {
    const b = packed(0, ['{"a":1}', '{"b":2}'], rng(3));
    b.ends[1] = b.bytes.length + 1;
    const errors: string[] = [];
    const log = createLogger({ level: "error", write: (line: string) => void errors.push(line) });
    const { code } = await runOnStdio(
      wire,
      answering(async (loaded) => loadedBatch(loaded, b.binding, b.bytes, b.starts, b.ends, b.count)),
      oneLoadTransaction(wire, spec),
      log,
    );
    expect(code).toBe(1);
    expect(errors.join("")).toContain("outside its");
  });
});

describe("docSpansFramer", () => {
  it("frames a protobuf batch in one pass as the document framer frames each, and refuses spans out of order", () => {
    expect(docSpansFramer(ResponseSchema, "json")).toBeUndefined();
    const spans = docSpansFramer(ResponseSchema, "proto")!;
    const one = docFramer(ResponseSchema, "proto")!;
    let batched = 0;
    for (const b of batches()) {
      const a = new FrameWriter("proto");
      const e = new FrameWriter("proto");
      a.append(enc.encode("x")); // not at the writer's start
      e.append(enc.encode("x"));
      for (let i = 0; i < b.count; i++) expect(one(b.binding, docOf(b, i), e)).toBe(true);
      const ascending = Array.from({ length: b.count }, (_, i) => i).every((i) => i === 0 || b.starts[i]! >= b.ends[i - 1]!);
      const before = a.size;
      const ok = spans(b.binding, b.bytes, b.starts, b.ends, b.count, a);
      expect(ok).toBe(ascending);
      if (!ok) {
        expect(a.size).toBe(before);
        continue;
      }
      batched++;
      expect(Buffer.from(a.take()).equals(Buffer.from(e.take()))).toBe(true);
    }
    expect(batched).toBeGreaterThan(250);
  });
});

describe("loadedBatch with a loaded() that is not the session's", () => {
  it("sends each document in order, intact when loaded() makes it wait and the caller reuses its buffer", async () => {
    const r = rng(99);
    const docs = Array.from({ length: 50 }, (_, i) => JSON.stringify({ i, s: "é".repeat(r(30)) }));
    const b = packed(5, docs, r);
    const got: Array<[number, string]> = [];
    const loaded = (binding: number, doc: unknown) => {
      got.push([binding, Buffer.from((doc as RawJsonBytes).bytes).toString("utf8")]);
      // Every seventh document makes the caller wait.
      if (got.length % 7 === 0) return new Promise<void>((resolve) => setTimeout(resolve, 1));
    };
    const p = loadedBatch(loaded, b.binding, b.bytes, b.starts, b.ends, b.count);
    expect(p).toBeInstanceOf(Promise);
    expect(got.length).toBe(7);
    b.bytes.fill(0x30);
    b.starts.fill(0);
    b.ends.fill(0);
    await p;
    expect(got).toEqual(docs.map((d) => [5, d]));
    // Nothing to wait for: nothing returned.
    const none = packed(1, ['{"a":1}', '{"b":2}'], r);
    const quiet: string[] = [];
    expect(loadedBatch((_b, d) => void quiet.push(Buffer.from((d as RawJsonBytes).bytes).toString()), 1, none.bytes, none.starts, none.ends, none.count)).toBeUndefined();
    expect(quiet).toEqual(['{"a":1}', '{"b":2}']);
  });

  it("refuses a span outside the batch's bytes, as the stdio sink does, instead of sending a cut document", () => {
    const b = packed(0, ['{"a":1}', '{"b":2}'], rng(4));
    b.ends[1] = b.bytes.length + 1;
    const sent: unknown[] = [];
    expect(() => loadedBatch((_b, d) => void sent.push(d), 0, b.bytes, b.starts, b.ends, b.count)).toThrow(/document 1 spans .* outside its/);
    expect(sent.length).toBe(1);
  });
});
