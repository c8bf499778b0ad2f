/**
 * Loaded over stdio through the sink's per-document path (sendLoaded): the
 * frames are the bytes the generic encoder makes for the same
 * { loaded: { binding, docJson } } message, in both wires, for documents the
 * framer splices in and for those it hands to the generic path; the framer
 * did write the plain ones; the metrics wrapper counts them as send() does.
 */
import { describe, expect, it, vi } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { ResponseSchema } from "../../src/gen/materialize/materialize_pb.js";
import { messageCodec } from "../../src/codec/wire.js";
import { toFlowJson } from "../../src/codec/flow-json.js";
import { FrameDecoder, FrameWriter } from "../../src/codec/frames.js";
import { RawJson, RawJsonBytes, type MaterializeConnector } from "../../src/sdk/types.js";
import { rng } from "../support/rng.js";
import { bindingsSpec, transactorConnector } from "../support/transactor-connector.js";
import { oneLoadTransaction, runOnStdio } from "../support/stdio-run.js";

/** Counts the documents the per-document framers wrote themselves (not handed to the generic path). */
const framed = vi.hoisted(() => ({ n: 0 }));
vi.mock("../../src/codec/fast-encode.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/codec/fast-encode.js")>();
  return {
    ...real,
    docFramer: (...args: Parameters<typeof real.docFramer>) => {
      const frame = real.docFramer(...args);
      return (
        frame &&
        ((binding: number, doc: string | Uint8Array, frames: FrameWriter) => {
          const ok = frame(binding, doc, frames);
          if (ok) framed.n++;
          return ok;
        })
      );
    },
  };
});

const enc = new TextEncoder();

const spec = bindingsSpec(3);

type Doc = RawJsonBytes | RawJson | Record<string, unknown>;

/** Edge documents (multi-line, leading blank, non-ASCII, large) and seeded random ones, each with its binding. */
function documents(): Array<[number, Doc]> {
  const r = rng(11);
  const out: Array<[number, Doc]> = [
    [0, new RawJsonBytes(enc.encode('{"a":1,"s":"é ✓ 😀"}'))],
    [1, new RawJsonBytes(enc.encode('{\n  "b": [1, 2]\n}'))],
    [2, new RawJsonBytes(enc.encode(" [3]"))],
    [0, new RawJsonBytes(enc.encode("{}"))],
    [1, new RawJsonBytes(enc.encode(JSON.stringify({ big: "x".repeat(300_000) })))],
    [2, new RawJson('{"t":"text form"}')],
    [0, { o: [1, "two", null], p: { q: true } }],
  ];
  // Many documents as views of one buffer, as the connector reads rows.
  const texts: Array<[number, string]> = [];
  for (let i = 0; i < 3000; i++) texts.push([r(3), JSON.stringify({ id: r(1_000_000), s: "ab\\\"'é😀\t"[r(8)]!.repeat(r(40)), n: r(2) ? null : r(100) / 7 })]);
  const all = Buffer.from(texts.map(([, t]) => t).join(""), "utf8");
  let at = 0;
  for (const [b, t] of texts) {
    const n = Buffer.byteLength(t, "utf8");
    out.push([b, new RawJsonBytes(all.subarray(at, (at += n)))]);
  }
  return out;
}

const docBytes = (d: Doc): Uint8Array =>
  d instanceof RawJsonBytes ? d.bytes : enc.encode(d instanceof RawJson ? d.text : JSON.stringify(d));

/** A materialization whose one Load is answered with every document of `docs`. */
function answering(docs: Array<[number, Doc]>): MaterializeConnector {
  return transactorConnector("answering", () => ({
    async acknowledge() {},
    async load(it, loaded) {
      await it.committed();
      for await (const _ of it) {
        for (const [binding, doc] of docs) await loaded(binding, doc);
      }
    },
    async store(it) {
      for await (const _ of it);
      return async () => undefined;
    },
  }));
}

describe.each(["proto", "json"] as const)("stdio Loaded frames (%s)", (wire) => {
  it("are the bytes the generic encoder makes, and the framer wrote the plain ones", async () => {
    const docs = documents();
    framed.n = 0;
    const { code, out, summary: counted } = await runOnStdio(wire, answering(docs), oneLoadTransaction(wire, spec));
    expect(code).toBe(0);

    const codec = messageCodec(ResponseSchema, wire);
    const frames = new FrameDecoder(wire).push(out);
    const loaded = frames.filter((f) => codec.decode(f).loaded).map((f) => Buffer.from(f).toString("hex"));
    // The generic path: the message object through reflection (toBinary / toFlowJson), no fast path.
    const expected = docs.map(([binding, d]) => {
      const msg = create(ResponseSchema, { loaded: { binding, docJson: docBytes(d) } });
      return Buffer.from(wire === "proto" ? toBinary(ResponseSchema, msg) : Buffer.from(toFlowJson(ResponseSchema, msg), "utf8")).toString("hex");
    });
    expect(loaded.length).toBe(docs.length);
    expect(loaded).toEqual(expected);

    // Protobuf frames every document; JSON hands the multi-line and blank-led ones to the generic path.
    expect(framed.n).toBe(wire === "proto" ? docs.length : docs.length - 2);

    // Counted as send() counts a Loaded: documents and bytes by binding.
    const summary = counted as { documents: Record<string, number>; bytes: Record<string, number> };
    for (const b of [0, 1, 2]) {
      const mine = docs.filter(([binding]) => binding === b);
      expect(summary.documents[`loaded/${b}`]).toBe(mine.length);
      expect(summary.bytes[`loaded/${b}`]).toBe(mine.reduce((n, [, d]) => n + docBytes(d).length, 0));
    }
  });
});
