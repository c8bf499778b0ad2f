import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  RequestSchema as CaptureRequestSchema,
  ResponseSchema as CaptureResponseSchema,
  type Response as CaptureResponse,
} from "../gen/capture/capture_pb.js";
import {
  RequestSchema as MaterializeRequestSchema,
  ResponseSchema as MaterializeResponseSchema,
  type Response as MaterializeResponse,
} from "../gen/materialize/materialize_pb.js";
import { zeroCheckpoint } from "./checkpoint.js";
import { fromFlowJson, toFlowJson } from "./flow-json.js";
import { fastJsonDecoder, fastProtoDecoder } from "./fast-decode.js";
import { fastEncoder } from "./fast-encode.js";
import { FrameDecoder, FrameWriter } from "./frames.js";
import { messageCodec, wireCodecFromEnv, type WireCodec } from "./wire.js";

const utf8 = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));
const WIRES: WireCodec[] = ["proto", "json"];

describe("wireCodecFromEnv", () => {
  it("selects JSON only for FLOW_RUNTIME_CODEC=json", () => {
    expect(wireCodecFromEnv({ FLOW_RUNTIME_CODEC: "json" })).toBe("json");
    expect(wireCodecFromEnv({ FLOW_RUNTIME_CODEC: "proto" })).toBe("proto");
    expect(wireCodecFromEnv({ FLOW_RUNTIME_CODEC: "JSON" })).toBe("proto");
    expect(wireCodecFromEnv({})).toBe("proto");
  });
});

/** What the generic (non-fast) path produces for a message. */
function genericEncode<M extends CaptureResponse | MaterializeResponse>(schema: typeof CaptureResponseSchema | typeof MaterializeResponseSchema, msg: M, wire: WireCodec): Uint8Array {
  return wire === "proto" ? toBinary(schema as never, msg as never) : utf8(toFlowJson(schema as never, msg as never));
}

const DOCS = ['{"a":1}', '{"big":12345678901234567890,"é":"😀\\n"}', "[]", '"s"', "0", "x".repeat(200).replace(/^/, '{"k":"') + '"}', "", '{"sp": [1, 2]}', '{"cr":\r1}'];
// Raw text the JSON fast path leaves to the generic path (which compacts it).
const ODD_DOCS = ['{\n  "a": 1\n}', ' {"a":1}', '{"a":\r\n1}'];
const BINDINGS = [0, 1, 127, 128, 16384, 4294967295];

describe("fast encode of per-document responses matches the generic path", () => {
  for (const wire of WIRES) {
    it(`capture.Response.captured (${wire})`, () => {
      const fast = fastEncoder(CaptureResponseSchema, wire)!;
      const codec = messageCodec(CaptureResponseSchema, wire);
      for (const doc of [...DOCS, ...ODD_DOCS]) {
        for (const binding of BINDINGS) {
          const msg = create(CaptureResponseSchema, { captured: { binding, docJson: doc } });
          const want = genericEncode(CaptureResponseSchema, msg, wire);
          const got = fast(msg as never);
          if (wire === "json" && ODD_DOCS.includes(doc)) {
            expect(got).toBeUndefined();
            expect(Buffer.from(codec.encode(msg)).equals(Buffer.from(want))).toBe(true);
            expect(Buffer.from(want).includes(0x0a)).toBe(false);
            continue;
          }
          expect(got, `fast path declined binding=${binding} doc=${doc}`).toBeDefined();
          expect(Buffer.from(got!).equals(Buffer.from(want))).toBe(true);
          expect(Buffer.from(codec.encode(msg)).equals(Buffer.from(want))).toBe(true);
          // And it decodes back to the same message.
          expect(equals(CaptureResponseSchema, codec.decode(got!), msg)).toBe(true);
        }
      }
    });

    it(`materialize.Response.loaded (${wire})`, () => {
      const fast = fastEncoder(MaterializeResponseSchema, wire)!;
      const codec = messageCodec(MaterializeResponseSchema, wire);
      for (const doc of [...DOCS, ...ODD_DOCS]) {
        for (const binding of BINDINGS) {
          const msg = create(MaterializeResponseSchema, { loaded: { binding, docJson: utf8(doc) } });
          const want = genericEncode(MaterializeResponseSchema, msg, wire);
          const got = fast(msg as never);
          if (wire === "json" && ODD_DOCS.includes(doc)) {
            expect(got).toBeUndefined();
            expect(Buffer.from(codec.encode(msg)).equals(Buffer.from(want))).toBe(true);
            expect(Buffer.from(want).includes(0x0a)).toBe(false);
            continue;
          }
          expect(got).toBeDefined();
          expect(Buffer.from(got!).equals(Buffer.from(want))).toBe(true);
          expect(Buffer.from(codec.encode(msg)).equals(Buffer.from(want))).toBe(true);
          expect(equals(MaterializeResponseSchema, codec.decode(got!), msg)).toBe(true);
        }
      }
    });

    it(`declines anything but a lone document (${wire})`, () => {
      const cap = fastEncoder(CaptureResponseSchema, wire)!;
      const mat = fastEncoder(MaterializeResponseSchema, wire)!;
      const cases: [typeof cap, CaptureResponse | MaterializeResponse][] = [
        [cap, create(CaptureResponseSchema, { captured: { binding: 1, docJson: "{}" }, opened: {} })],
        [cap, create(CaptureResponseSchema, { captured: { docJson: "{}" }, internal: new Uint8Array([1]) })],
        [cap, create(CaptureResponseSchema, { checkpoint: {} })],
        [mat, create(MaterializeResponseSchema, { loaded: { docJson: utf8("{}") }, flushed: {} })],
        [mat, create(MaterializeResponseSchema, { opened: { runtimeCheckpoint: zeroCheckpoint() } })],
      ];
      // JSON checks raw text before splicing it in; odd text goes the generic way.
      if (wire === "json") cases.push([cap, create(CaptureResponseSchema, { captured: { docJson: " {}" } })]);
      for (const [fast, msg] of cases) expect(fast(msg as never)).toBeUndefined();
      // The codec still encodes them, through the generic path.
      const codec = messageCodec(CaptureResponseSchema, wire);
      const both = create(CaptureResponseSchema, { captured: { binding: 1, docJson: "{}" }, opened: {} });
      expect(equals(CaptureResponseSchema, codec.decode(codec.encode(both)), both)).toBe(true);
    });
  }

  it("keeps unknown fields in protobuf (the zero checkpoint)", () => {
    const codec = messageCodec(MaterializeResponseSchema, "proto");
    const msg = create(MaterializeResponseSchema, { opened: { runtimeCheckpoint: zeroCheckpoint() } });
    const wire = codec.encode(msg);
    expect(Buffer.from(wire).toString("hex")).toBe("22080a06f8ffffff0f01");
    expect(Buffer.from(codec.encode(codec.decode(wire))).toString("hex")).toBe("22080a06f8ffffff0f01");
  });

  it("refuses blank raw documents on the generic path", () => {
    const codec = messageCodec(CaptureResponseSchema, "json");
    expect(() => codec.encode(create(CaptureResponseSchema, { captured: { docJson: "   " } }))).toThrow(/raw JSON value is blank/);
  });
});

describe("framed encode writes what append(encode) writes", () => {
  // Lengths around the varint steps and the measuring threshold, ASCII and not:
  // a non-ASCII text's byte length can need a longer varint than its UTF-16 length.
  const sizes = [0, 1, 120, 126, 127, 128, 129, 16370, 16383, 16384, 16385, 16 * 1024 + 1, 70000];
  const texts: string[] = [...DOCS, ...ODD_DOCS];
  for (const n of sizes) {
    const body = Math.max(0, n - 8);
    texts.push(`{"k":"${"a".repeat(body)}"}`);
    texts.push(`{"k":"${"é".repeat(Math.ceil(body / 2))}"}`);
    texts.push(`{"k":"${"a".repeat(Math.max(0, body - 4))}😀"}`);
  }
  for (const wire of WIRES) {
    it(`capture.Response and materialize.Response (${wire})`, () => {
      const cap = messageCodec(CaptureResponseSchema, wire);
      const mat = messageCodec(MaterializeResponseSchema, wire);
      const framed = new FrameWriter(wire);
      const appended = new FrameWriter(wire);
      let count = 0;
      for (const doc of texts) {
        for (const binding of [0, 1, 300]) {
          const c = create(CaptureResponseSchema, { captured: { binding, docJson: doc } });
          cap.encodeFramed(c, framed);
          appended.append(cap.encode(c));
          const m = create(MaterializeResponseSchema, { loaded: { binding, docJson: utf8(doc) } });
          mat.encodeFramed(m, framed);
          appended.append(mat.encode(m));
          count += 2;
        }
      }
      // Not fast-path messages, framed through the generic path.
      const other = create(CaptureResponseSchema, { checkpoint: {} });
      cap.encodeFramed(other, framed);
      appended.append(cap.encode(other));
      const got = framed.take();
      expect(got.equals(appended.take())).toBe(true);
      const frames = new FrameDecoder(wire).push(got);
      expect(frames.length).toBe(count + 1);
      expect(equals(CaptureResponseSchema, cap.decode(frames[count]!), other)).toBe(true);
    });
  }
});

describe("fast JSON decode of materialize Store and Load matches the generic path", () => {
  const fast = fastJsonDecoder(MaterializeRequestSchema)!;
  const codec = messageCodec(MaterializeRequestSchema, "json");
  const generic = (s: string) => fromFlowJson(MaterializeRequestSchema, s);

  const handled = [
    '{"store":{"binding":2,"key":[12345678901234567890,"k"],"keyPacked":"AQID","values":[1.10,true],"valuesPacked":"BA==","doc":{"b":{"z":1,"a":[1,2]},"s":"\\"\\u00e9😀"},"exists":true,"delete":true}}',
    '{"store":{"key":[1],"values":[],"doc":{"_meta":{"op":"d"}},"delete":true}}',
    '{"store":{}}',
    '{"store":{"binding":0,"key_json":["a"],"values_json":[null],"doc_json":{"x":null},"exists":false}}',
    '{"store":{"binding":4294967295,"doc":null,"key":null}}',
    '{"load":{"binding":7,"key":["a",1],"keyPacked":"-_8="}}',
    '{"load":{"key":[{"nested":[1,2,{"d":"}"}]}]}}\r\n',
    '{"load":{}}',
  ];
  for (const s of handled) {
    it(`handles ${s.slice(0, 50)}`, () => {
      const got = fast(utf8(s));
      expect(got, "fast path declined").toBeDefined();
      const want = generic(s);
      expect(equals(MaterializeRequestSchema, got as never, want)).toBe(true);
      expect(got).toEqual(want);
      expect(equals(MaterializeRequestSchema, codec.decode(utf8(s)), want)).toBe(true);
    });
  }

  const declined = [
    '{ "store":{"binding":1}}', // whitespace: generic path
    '{"store":{"binding":1,"future":5}}', // unknown key
    '{"store":{"binding":1.0}}',
    '{"store":{"binding":"1"}}',
    '{"store":{"binding":01}}',
    '{"store":{"binding":4294967296}}',
    '{"store":{"binding":1},"$internal":"AQ=="}',
    '{"load":{"doc":{}}}', // not a Load field
    '{"store":{"doc":{"a":}}}',
    '{"store":{"keyPacked":"!!"}}',
    '{"flush":{}}',
  ];
  for (const s of declined) {
    it(`declines ${s}`, () => {
      expect(fast(utf8(s))).toBeUndefined();
      // The codec gives the generic result or the generic error.
      let want: unknown;
      try {
        want = generic(s);
      } catch (err) {
        expect(() => codec.decode(utf8(s))).toThrow((err as Error).message);
        return;
      }
      expect(equals(MaterializeRequestSchema, codec.decode(utf8(s)), want as never)).toBe(true);
    });
  }

  it("copies raw values out of the frame", () => {
    const frame = utf8('{"store":{"doc":{"a":1}}}');
    const msg = fast(frame) as { store: { docJson: Uint8Array } };
    frame.fill(0x20);
    expect(Buffer.from(msg.store.docJson).toString()).toBe('{"a":1}');
  });

  it("reports undecodable payloads naming the message", () => {
    expect(() => codec.decode(utf8('{"store":{"binding":-1}}'))).toThrow(/materialize\.Request\.Store\.binding/);
    expect(() => codec.decode(new Uint8Array([0x7b, 0xff, 0x7d]))).toThrow(/materialize\.Request: JSON payload is not valid UTF-8/);
    const proto = messageCodec(MaterializeRequestSchema, "proto");
    expect(() => proto.decode(new Uint8Array([0x3a, 0x05, 0x01]))).toThrow(/cannot decode materialize\.Request from protobuf/);
  });
});

describe("generic codecs round-trip", () => {
  for (const wire of WIRES) {
    it(`materialize.Request store (${wire})`, () => {
      const codec = messageCodec(MaterializeRequestSchema, wire);
      const msg = create(MaterializeRequestSchema, {
        store: { binding: 1, keyJson: utf8('["k"]'), keyPacked: new Uint8Array([1]), valuesJson: utf8("[1]"), docJson: utf8('{"k":"k"}'), exists: true },
      });
      const back = codec.decode(codec.encode(msg));
      expect(equals(MaterializeRequestSchema, back, msg)).toBe(true);
      if (wire === "proto") expect(equals(MaterializeRequestSchema, fromBinary(MaterializeRequestSchema, codec.encode(msg)), msg)).toBe(true);
    });
  }
});

/** Store and Load requests with every combination of set and unset fields. */
function storeLoadVariety(docs: string[] = ['{"n":1}']) {
  const out = [];
  for (let mask = 0; mask < 256; mask++) {
    const on = (bit: number) => (mask & (1 << bit)) !== 0;
    const doc = docs[mask % docs.length]!;
    const store = {
      binding: on(0) ? 300 + mask : 0,
      keyJson: on(1) ? utf8(`["k${mask}"]`) : new Uint8Array(0),
      keyPacked: on(2) ? new Uint8Array([1, mask]) : new Uint8Array(0),
      valuesJson: on(3) ? utf8("[1.5,true]") : new Uint8Array(0),
      valuesPacked: on(4) ? new Uint8Array([9, 0xff, 0xfe]) : new Uint8Array(0),
      docJson: on(5) ? utf8(doc.replace("1", String(mask)) + " ".repeat(mask % 3)) : new Uint8Array(0),
      exists: on(6),
      delete: on(7),
    };
    out.push(create(MaterializeRequestSchema, { store }));
    out.push(create(MaterializeRequestSchema, { load: { binding: store.binding, keyJson: store.keyJson, keyPacked: store.keyPacked } }));
  }
  return out;
}

describe("fast encode of materialize Store and Load requests matches the generic path", () => {
  for (const wire of WIRES) {
    it(`${wire}`, () => {
      const fast = fastEncoder(MaterializeRequestSchema, wire)!;
      const codec = messageCodec(MaterializeRequestSchema, wire);
      let declined = 0;
      for (const msg of storeLoadVariety(['{"n":1}', '{"big":12345678901234567890,"s":"é😀"}', '{\n"n": 1}'])) {
        const want = wire === "proto" ? toBinary(MaterializeRequestSchema, msg) : utf8(toFlowJson(MaterializeRequestSchema, msg));
        const got = fast(msg as never);
        if (got === undefined) {
          declined++;
          expect(wire).toBe("json"); // only multi-line raw values are left to the generic path
          expect(Buffer.from(msg.store!.docJson).includes(0x0a)).toBe(true);
        } else {
          expect(Buffer.from(got).equals(Buffer.from(want)), Buffer.from(want).toString(wire === "proto" ? "hex" : "utf8")).toBe(true);
        }
        expect(Buffer.from(codec.encode(msg)).equals(Buffer.from(want))).toBe(true);
      }
      if (wire === "json") expect(declined).toBeGreaterThan(0);
    });
  }

  it("declines requests with anything besides the Store or Load", () => {
    const fast = fastEncoder(MaterializeRequestSchema, "proto")!;
    expect(fast(create(MaterializeRequestSchema, { store: {}, flush: {} }) as never)).toBeUndefined();
    expect(fast(create(MaterializeRequestSchema, { load: {}, internal: new Uint8Array([1]) }) as never)).toBeUndefined();
    expect(fast(create(MaterializeRequestSchema, { flush: {} }) as never)).toBeUndefined();
  });
});

describe("fast protobuf decode of materialize Store and Load matches fromBinary", () => {
  const fast = fastProtoDecoder(MaterializeRequestSchema)!;
  const codec = messageCodec(MaterializeRequestSchema, "proto");
  const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s/g, ""), "hex"));

  it("handles every combination of set and unset fields", () => {
    let count = 0;
    for (let mask = 0; mask < 256; mask++) {
      const on = (bit: number) => (mask & (1 << bit)) !== 0;
      const store = {
        binding: on(0) ? 300 + mask : 0,
        keyJson: on(1) ? utf8(`["k${mask}"]`) : new Uint8Array(0),
        keyPacked: on(2) ? new Uint8Array([1, mask]) : new Uint8Array(0),
        valuesJson: on(3) ? utf8("[1.5,true]") : new Uint8Array(0),
        valuesPacked: on(4) ? new Uint8Array([9]) : new Uint8Array(0),
        docJson: on(5) ? utf8(`{"n":${mask},"pad":"${"x".repeat(mask)}"}`) : new Uint8Array(0),
        exists: on(6),
        delete: on(7),
      };
      for (const msg of [
        create(MaterializeRequestSchema, { store }),
        create(MaterializeRequestSchema, { load: { binding: store.binding, keyJson: store.keyJson, keyPacked: store.keyPacked } }),
      ]) {
        const wire = toBinary(MaterializeRequestSchema, msg);
        const got = fast(wire);
        expect(got, `declined ${Buffer.from(wire).toString("hex")}`).toBeDefined();
        expect(equals(MaterializeRequestSchema, got as never, fromBinary(MaterializeRequestSchema, wire))).toBe(true);
        expect(equals(MaterializeRequestSchema, got as never, msg)).toBe(true);
        count++;
      }
    }
    expect(count).toBe(512);
  });

  it("reads unusual but valid encodings the same way", () => {
    const cases = [
      "3a 06 08 01 08 02 38 01", // repeated binding: last wins
      "3a 04 38 02 40 00", // bool written as 2
      "3a 06 08 ff ff ff ff 0f", // binding 4294967295
      "3a 00", // empty store
      "2a 05 12 03 5b 31 5d", // load with key [1]
      "3a 02 32 00", // present but empty doc
    ];
    for (const c of cases) {
      const got = fast(hex(c));
      expect(got, c).toBeDefined();
      expect(equals(MaterializeRequestSchema, got as never, fromBinary(MaterializeRequestSchema, hex(c)))).toBe(true);
    }
  });

  it("declines what it does not model, and the codec keeps unknown fields", () => {
    const cases = [
      "3a 03 48 01 00", // unknown field 9 inside Store
      "3a 02 08 01 a2 06 01 00", // $internal after the Store
      "3a 02 08 01 3a 02 08 02", // Store twice (merged by fromBinary)
      "2a 02 38 01", // exists is not a Load field
      "0a 00", // spec
      "3a 05 08 01", // truncated
      "3a 03 12 05 00", // bytes field overruns
      "", // empty request
    ];
    for (const c of cases) expect(fast(hex(c)), c).toBeUndefined();
    const unknown = hex("3a 04 08 01 48 07");
    const msg = codec.decode(unknown);
    expect(msg.store?.binding).toBe(1);
    expect(msg.store?.$unknown).toHaveLength(1);
    expect(Buffer.from(codec.encode(msg)).equals(Buffer.from(unknown))).toBe(true);
    expect(() => codec.decode(hex("3a 05 08 01"))).toThrow(/cannot decode materialize\.Request from protobuf/);
  });
});

describe("fast paths only attach to the schemas they were written for", () => {
  it("returns no fast path for other types", () => {
    expect(fastProtoDecoder(CaptureRequestSchema)).toBeUndefined();
    expect(fastJsonDecoder(MaterializeResponseSchema)).toBeDefined();
    expect(fastEncoder(MaterializeResponseSchema, "proto")).toBeDefined();
    expect(fastEncoder(CaptureRequestSchema, "proto")).toBeUndefined();
    expect(fastJsonDecoder(CaptureRequestSchema)).toBeUndefined();
  });
});

describe("fast decode of per-document responses matches the generic path", () => {
  const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s/g, ""), "hex"));
  for (const wire of WIRES) {
    it(`capture.Response.captured and materialize.Response.loaded (${wire})`, () => {
      const cap = (wire === "proto" ? fastProtoDecoder : fastJsonDecoder)(CaptureResponseSchema)!;
      const mat = (wire === "proto" ? fastProtoDecoder : fastJsonDecoder)(MaterializeResponseSchema)!;
      for (const doc of DOCS) {
        for (const binding of BINDINGS) {
          const c = create(CaptureResponseSchema, { captured: { binding, docJson: doc } });
          const cBytes = genericEncode(CaptureResponseSchema, c, wire);
          const cGot = cap(cBytes);
          expect(cGot, `declined ${Buffer.from(cBytes).toString()}`).toBeDefined();
          expect(equals(CaptureResponseSchema, cGot as never, c)).toBe(true);
          const m = create(MaterializeResponseSchema, { loaded: { binding, docJson: utf8(doc) } });
          const mBytes = genericEncode(MaterializeResponseSchema, m, wire);
          const mGot = mat(mBytes);
          expect(mGot).toBeDefined();
          expect(equals(MaterializeResponseSchema, mGot as never, m)).toBe(true);
        }
      }
    });
  }

  it("leaves invalid UTF-8 to the generic path and its error", () => {
    const bytes = hex("32 06 08 01 12 02 ff 61");
    expect(fastProtoDecoder(CaptureResponseSchema)!(bytes)).toBeUndefined();
    expect(() => messageCodec(CaptureResponseSchema, "proto").decode(bytes)).toThrow(/cannot decode capture\.Response from protobuf/);
    for (const [schema, prefix] of [
      [CaptureResponseSchema, '{"captured":{"doc":"'],
      [MaterializeResponseSchema, '{"loaded":{"doc":"'],
      [MaterializeRequestSchema, '{"store":{"doc":"'],
    ] as const) {
      const payload = Buffer.concat([Buffer.from(prefix), Buffer.from([0xff]), Buffer.from('"}}')]);
      expect(fastJsonDecoder(schema)!(payload), prefix).toBeUndefined();
      expect(() => messageCodec(schema, "json").decode(payload)).toThrow(/JSON payload is not valid UTF-8/);
    }
  });

  it("declines anything else, leaving it to the generic path", () => {
    const proto = fastProtoDecoder(CaptureResponseSchema)!;
    for (const c of ["32 04 08 01 18 01", "32 02 08 01 3a 00", "3a 00", "32 05 08 01", ""]) expect(proto(hex(c)), c).toBeUndefined();
    const json = fastJsonDecoder(CaptureResponseSchema)!;
    for (const c of ['{"captured":{"binding":1,"x":2}}', '{"captured":{"binding":1}, "checkpoint":{}}', '{ "captured":{}}', '{"captured":{"doc":{"a":}}}']) {
      expect(json(utf8(c)), c).toBeUndefined();
    }
    const codec = messageCodec(CaptureResponseSchema, "json");
    expect(codec.decode(utf8('{"captured":{"binding":1,"x":2}}')).captured?.binding).toBe(1);
  });
});
