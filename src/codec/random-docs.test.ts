/**
 * Seeded random JSON documents through every path: generic and fast, both
 * wires. Raw values must come back as the exact text that went in.
 */
import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ResponseSchema as CaptureResponseSchema } from "../gen/capture/capture_pb.js";
import { RequestSchema as MaterializeRequestSchema } from "../gen/materialize/materialize_pb.js";
import { fromFlowJson, toFlowJson } from "./flow-json.js";
import { FrameDecoder, FrameWriter } from "./frames.js";
import { compactJson, indentJson } from "./json-layout.js";
import { isJsonValue } from "./json-scan.js";
import { messageCodec, type WireCodec } from "./wire.js";
import { rng } from "../../test/support/rng.js";

const PIECES = ["a", "é", "😀", "\\n", '\\"', "\\\\", "\\u0000", "\\ud83d\\ude00", " ", "/", "\\/", "ü̈", "\u2028"];

function randomJson(r: (n: number) => number, depth = 0): string {
  const kind = depth > 4 ? r(4) : r(6);
  switch (kind) {
    case 0: {
      const digits = Array.from({ length: 1 + r(30) }, () => r(10)).join("").replace(/^0+(?=\d)/, "");
      const frac = r(3) === 0 ? "." + Array.from({ length: 1 + r(25) }, () => r(10)).join("") : "";
      const exp = r(5) === 0 ? `e${r(2) ? "-" : "+"}${r(400)}` : "";
      return (r(2) ? "-" : "") + digits + frac + exp;
    }
    case 1:
      return '"' + Array.from({ length: r(8) }, () => PIECES[r(PIECES.length)]).join("") + '"';
    case 2:
      return ["true", "false", "null"][r(3)]!;
    case 3:
      return '"' + "x".repeat(r(40)) + '"';
    case 4: {
      const items = Array.from({ length: r(5) }, () => randomJson(r, depth + 1));
      return "[" + items.join(",") + "]";
    }
    default: {
      const keys = Array.from({ length: r(6) }, (_, i) => `"${PIECES[r(PIECES.length)]}${i}"`);
      return "{" + keys.map((k) => k + ":" + randomJson(r, depth + 1)).join(",") + "}";
    }
  }
}

const r = rng(20261121);
// A top-level null raw value reads back as absent (null means unset), so
// documents are never exactly `null`.
const DOCS = Array.from({ length: 400 }, () => randomJson(r)).filter((d) => d !== "null");

describe("random documents", () => {
  it("are valid JSON (the generator is sound)", () => {
    for (const d of DOCS) {
      expect(isJsonValue(d), d).toBe(true);
      expect(() => JSON.parse(d), d).not.toThrow();
    }
  });

  it("re-indent and compact back to the same text", () => {
    for (const d of DOCS) expect(compactJson(indentJson(d))).toBe(d);
  });

  it("written multi-line, come out compact on the JSON wire", () => {
    const codec = messageCodec(CaptureResponseSchema, "json");
    for (const d of DOCS) {
      const pretty = indentJson(d);
      const bytes = codec.encode(create(CaptureResponseSchema, { captured: { docJson: pretty } }));
      expect(Buffer.from(bytes).includes(0x0a)).toBe(false);
      expect(codec.decode(bytes).captured?.docJson).toBe(d);
    }
  });

  for (const wire of ["proto", "json"] as WireCodec[]) {
    it(`survive capture Captured through the ${wire} codec and framing, verbatim`, () => {
      const codec = messageCodec(CaptureResponseSchema, wire);
      const w = new FrameWriter(wire);
      const msgs = DOCS.map((doc, i) => create(CaptureResponseSchema, { captured: { binding: i % 3, docJson: doc } }));
      for (const m of msgs) w.append(codec.encode(m));
      const all = w.take();
      const d = new FrameDecoder(wire);
      const frames = [...d.push(all.subarray(0, 777)), ...d.push(all.subarray(777))];
      d.finish();
      expect(frames.length).toBe(msgs.length);
      frames.forEach((f, i) => {
        const back = codec.decode(f);
        expect(back.captured?.docJson).toBe(DOCS[i]);
        expect(equals(CaptureResponseSchema, back, msgs[i]!)).toBe(true);
      });
    });

    it(`survive materialize Store through the ${wire} codec, fast and generic agreeing`, () => {
      const codec = messageCodec(MaterializeRequestSchema, wire);
      DOCS.forEach((doc, i) => {
        const key = DOCS[(i * 7) % DOCS.length]!;
        const msg = create(MaterializeRequestSchema, {
          store: { binding: i, keyJson: Buffer.from(`[${key}]`), valuesJson: Buffer.from(`[${doc},${key}]`), docJson: Buffer.from(doc), exists: i % 2 === 0 },
        });
        const bytes = codec.encode(msg);
        const generic =
          wire === "proto" ? toBinary(MaterializeRequestSchema, msg) : Buffer.from(toFlowJson(MaterializeRequestSchema, msg));
        expect(Buffer.from(bytes).equals(Buffer.from(generic))).toBe(true);
        const back = codec.decode(bytes);
        const genericBack =
          wire === "proto" ? fromBinary(MaterializeRequestSchema, bytes) : fromFlowJson(MaterializeRequestSchema, Buffer.from(bytes).toString());
        expect(equals(MaterializeRequestSchema, back, genericBack)).toBe(true);
        expect(Buffer.from(back.store!.docJson).toString()).toBe(doc);
      });
    });
  }
});
