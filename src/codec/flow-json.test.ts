import { create, fromBinary, fromJson, toBinary, toJson } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { ResponseSchema as CaptureResponseSchema } from "../gen/capture/capture_pb.js";
import { CheckpointSchema, ShardSpecSchema } from "../gen/consumer/protocol/protocol_pb.js";
import {
  CaptureSpecSchema,
  InferenceSchema,
  MaterializationSpec_BindingSchema,
  RangeSpecSchema,
} from "../gen/flow/flow_pb.js";
import {
  RequestSchema as MaterializeRequestSchema,
  Request_FlushSchema,
  ResponseSchema as MaterializeResponseSchema,
  Response_Validated_ConstraintSchema,
} from "../gen/materialize/materialize_pb.js";
import { isZeroCheckpoint, zeroCheckpoint } from "./checkpoint.js";
import { fromFlowJson, toFlowJson } from "./flow-json.js";

const text = (b: Uint8Array) => Buffer.from(b).toString("utf8");
const bytes = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));

// Raw JSON values that JSON.parse would change: big integers, long decimals,
// exponent forms, escapes, unicode, and a key order that is not sorted.
const TRICKY = [
  '{"z":12345678901234567890,"a":1.000000000000000000001,"m":-0.0,"e":1E+400}',
  '{"s":"h\\u00e9llo \\"q\\" \\\\ \\/ \\n","é":"ü😀","nested":{"b":[1,{"d":2,"c":3}],"a":null}}',
  "[18446744073709551616,-9223372036854775809,3.14159265358979323846264338327950288]",
  '"just a string"',
  "12345678901234567890123",
  "true",
  "false",
  "-0.5e-7",
];

describe("raw JSON fields pass through verbatim", () => {
  for (const raw of TRICKY) {
    it(`string field (capture.Response.Captured.doc): ${raw.slice(0, 40)}`, () => {
      const msg = create(CaptureResponseSchema, { captured: { binding: 3, docJson: raw } });
      const json = toFlowJson(CaptureResponseSchema, msg);
      expect(json).toBe(`{"captured":{"binding":3,"doc":${raw}}}`);
      const back = fromFlowJson(CaptureResponseSchema, json);
      expect(back.captured?.docJson).toBe(raw);
      expect(back.captured?.binding).toBe(3);
    });

    it(`bytes field (materialize.Request.Store.doc): ${raw.slice(0, 40)}`, () => {
      const msg = create(MaterializeRequestSchema, {
        store: { binding: 1, keyJson: bytes("[1]"), valuesJson: bytes("[]"), docJson: bytes(raw), exists: true },
      });
      const json = toFlowJson(MaterializeRequestSchema, msg);
      expect(json).toBe(`{"store":{"binding":1,"key":[1],"values":[],"doc":${raw},"exists":true}}`);
      const back = fromFlowJson(MaterializeRequestSchema, json);
      expect(text(back.store!.docJson)).toBe(raw);
      expect(back.store!.docJson).toBeInstanceOf(Uint8Array);
    });
  }

  it("keeps the producer's spacing inside a raw value when decoding", () => {
    const input = '{ "captured" : { "doc" : { "b" : 1 ,\n "a" : [ 2 , 3 ] } , "binding" : 7 } }';
    const msg = fromFlowJson(CaptureResponseSchema, input);
    expect(msg.captured?.docJson).toBe('{ "b" : 1 ,\n "a" : [ 2 , 3 ] }');
    expect(msg.captured?.binding).toBe(7);
  });

  it("keeps raw map values and list items verbatim", () => {
    const input =
      '{"ptr":"/p","default":{"y":1,"x":99999999999999999999},"enum":[1.50,"x",{"k":[]}],' +
      '"string":{"maxLength":5}}';
    const inf = fromFlowJson(InferenceSchema, input);
    expect(text(inf.defaultJson)).toBe('{"y":1,"x":99999999999999999999}');
    expect(inf.enumJsonVec.map(text)).toEqual(["1.50", '"x"', '{"k":[]}']);
    expect(toFlowJson(InferenceSchema, inf)).toContain('"default":{"y":1,"x":99999999999999999999}');
    expect(toFlowJson(InferenceSchema, inf)).toContain('"enum":[1.50,"x",{"k":[]}]');
  });

  it("omits empty raw fields and refuses blank or non-JSON raw text", () => {
    const empty = create(CaptureResponseSchema, { captured: { binding: 1, docJson: "" } });
    expect(toFlowJson(CaptureResponseSchema, empty)).toBe('{"captured":{"binding":1}}');
    const blank = create(CaptureResponseSchema, { captured: { docJson: "  " } });
    expect(() => toFlowJson(CaptureResponseSchema, blank)).toThrow(/capture\.Response\.Captured\.doc_json: raw JSON value is blank/);
    const bad = create(CaptureResponseSchema, { captured: { docJson: "undefined" } });
    expect(() => toFlowJson(CaptureResponseSchema, bad)).toThrow(
      'capture.Response.Captured.doc_json: raw JSON value is not valid JSON: expected a JSON value at offset 0 (near "undefined")',
    );
    const twoValues = create(CaptureResponseSchema, { captured: { docJson: "\n{} {}" } });
    expect(() => toFlowJson(CaptureResponseSchema, twoValues)).toThrow(/doc_json: raw JSON value is not valid JSON: unexpected content after the JSON value/);
  });

  it("compacts raw values with line breaks so output stays on one line", () => {
    const pretty = '{\n  "z": 12345678901234567890,\n  "s": "a b\\n c",\r\n  "l": [ 1, 2 ]\n}\n';
    const cap = create(CaptureResponseSchema, { captured: { binding: 1, docJson: pretty } });
    expect(toFlowJson(CaptureResponseSchema, cap)).toBe('{"captured":{"binding":1,"doc":{"z":12345678901234567890,"s":"a b\\n c","l":[1,2]}}}');
    const store = create(MaterializeRequestSchema, { store: { docJson: bytes("  [ 1 ,\n 2 ]") } });
    expect(toFlowJson(MaterializeRequestSchema, store)).toBe('{"store":{"doc":[1,2]}}');
    // Spacing without line breaks is legal on one line and kept verbatim.
    const spaced = create(CaptureResponseSchema, { captured: { docJson: '{"a": 1}' } });
    expect(toFlowJson(CaptureResponseSchema, spaced)).toBe('{"captured":{"doc":{"a": 1}}}');
  });

  it("rejects malformed raw values with the message and offset", () => {
    expect(() => fromFlowJson(CaptureResponseSchema, '{"captured":{"doc":{"a":}}}')).toThrow(/capture\.Response: expected a JSON value at offset 24/);
    expect(() => fromFlowJson(CaptureResponseSchema, '{"captured":{"doc":{"a":1}')).toThrow(/capture\.Response/);
    expect(() => fromFlowJson(CaptureResponseSchema, '{"captured":{"doc":"\\x"}}')).toThrow(/invalid string/);
    expect(() => fromFlowJson(CaptureResponseSchema, '{"captured":{"doc":01}}')).toThrow(/expected ','/);
    expect(() => fromFlowJson(CaptureResponseSchema, '{"captured":{}} x')).toThrow(/unexpected content after/);
  });
});

describe("protojson rules", () => {
  it("accepts proto field names as well as json names", () => {
    const msg = fromFlowJson(
      MaterializeRequestSchema,
      '{"start_commit":{"runtime_checkpoint":{"ack_intents":{"j":"AQI="}},"state_patches_json":[{"a":1}]}}',
    );
    expect([...msg.startCommit!.runtimeCheckpoint!.ackIntents.j!]).toEqual([1, 2]);
    expect(text(msg.startCommit!.statePatchesJson)).toBe('[{"a":1}]');
    const cap = fromFlowJson(CaptureResponseSchema, '{"captured":{"doc_json":{"x":1},"binding":4}}');
    expect(cap.captured?.docJson).toBe('{"x":1}');
  });

  it("treats null as absent, everywhere except inside raw values", () => {
    const msg = fromFlowJson(
      CaptureResponseSchema,
      '{"opened":null,"captured":{"binding":null,"doc":{"a":null}},"spec":null,"$internal":null}',
    );
    expect(msg.opened).toBeUndefined();
    expect(msg.spec).toBeUndefined();
    expect(msg.captured?.binding).toBe(0);
    expect(msg.captured?.docJson).toBe('{"a":null}');
    const nullDoc = fromFlowJson(CaptureResponseSchema, '{"captured":{"doc":null}}');
    expect(nullDoc.captured?.docJson).toBe("");
  });

  it("reads a map key named __proto__ as a plain entry", () => {
    const cp = fromFlowJson(CheckpointSchema, '{"ackIntents":{"__proto__":"AQ==","j":"Ag=="}}');
    expect(Object.keys(cp.ackIntents)).toEqual(["__proto__", "j"]);
    expect(Object.getPrototypeOf(cp.ackIntents)).toBe(Object.prototype);
    expect(toFlowJson(CheckpointSchema, cp)).toBe('{"ackIntents":{"__proto__":"AQ==","j":"Ag=="}}');
  });

  it("ignores unknown fields of any shape", () => {
    const msg = fromFlowJson(
      CaptureResponseSchema,
      '{"future":{"a":[1,{"b":"}"}]},"captured":{"binding":1,"newThing":[[]],"doc":{}},"z":"\\"}"}',
    );
    expect(msg.captured?.binding).toBe(1);
    expect(msg.captured?.docJson).toBe("{}");
  });

  it("writes 64-bit integers as strings and reads numbers or strings without losing precision", () => {
    const json =
      '{"sources":{"a/journal":{"readThrough":"9007199254740993","producers":[{"id":"AQID","state":{"lastAck":18446744073709551615,"begin":"-5"}}]}}}';
    const cp = fromFlowJson(CheckpointSchema, json);
    expect(cp.sources["a/journal"]!.readThrough).toBe(9007199254740993n);
    expect(cp.sources["a/journal"]!.producers[0]!.state!.lastAck).toBe(18446744073709551615n);
    expect(cp.sources["a/journal"]!.producers[0]!.state!.begin).toBe(-5n);
    const out = toFlowJson(CheckpointSchema, cp);
    expect(out).toBe(
      '{"sources":{"a/journal":{"readThrough":"9007199254740993","producers":[{"id":"AQID","state":{"lastAck":"18446744073709551615","begin":"-5"}}]}}}',
    );
    // Standard protojson agrees wherever there is no raw-JSON field.
    expect(JSON.parse(out)).toEqual(toJson(CheckpointSchema, cp));
    expect(() => fromFlowJson(CheckpointSchema, '{"sources":{"j":{"readThrough":"1.5"}}}')).toThrow(
      /consumer\.Checkpoint\.Source\.read_through: invalid integer/,
    );
    expect(() => fromFlowJson(CheckpointSchema, '{"sources":{"j":{"readThrough":"9223372036854775808"}}}')).toThrow(/out of range/);
  });

  it("checks 32-bit integers and names the field", () => {
    expect(fromFlowJson(RangeSpecSchema, '{"keyEnd":4294967295,"rClockEnd":"7"}')).toMatchObject({ keyEnd: 4294967295, rClockEnd: 7 });
    expect(() => fromFlowJson(RangeSpecSchema, '{"keyEnd":4294967296}')).toThrow(/flow\.RangeSpec\.key_end: invalid unsigned 32-bit integer/);
    expect(() => fromFlowJson(CaptureResponseSchema, '{"captured":{"binding":"x"}}')).toThrow(/capture\.Response\.Captured\.binding/);
    expect(() => fromFlowJson(CaptureResponseSchema, '{"captured":{"binding":1.5}}')).toThrow(/capture\.Response\.Captured\.binding/);
    expect(() => fromFlowJson(CaptureResponseSchema, '{"captured":[]}')).toThrow(/expected an object for capture\.Response\.Captured/);
  });

  it("writes enums by name, reads names or numbers, and skips unknown names", () => {
    const c = create(Response_Validated_ConstraintSchema, { type: 4, reason: "r" });
    expect(toFlowJson(Response_Validated_ConstraintSchema, c)).toBe('{"type":"FIELD_OPTIONAL","reason":"r"}');
    expect(fromFlowJson(Response_Validated_ConstraintSchema, '{"type":"FIELD_REQUIRED"}').type).toBe(1);
    expect(fromFlowJson(Response_Validated_ConstraintSchema, '{"type":5}').type).toBe(5);
    expect(fromFlowJson(Response_Validated_ConstraintSchema, '{"type":"SOMETHING_NEW","reason":"x"}')).toMatchObject({ type: 0, reason: "x" });
  });

  it("handles doubles, including non-finite values and Rust's trailing .0", () => {
    const inf = fromFlowJson(InferenceSchema, '{"numeric":{"hasMinimum":true,"minimum":-1000.0,"maximum":"Infinity"}}');
    expect(inf.numeric?.minimum).toBe(-1000);
    expect(inf.numeric?.maximum).toBe(Infinity);
    expect(toFlowJson(InferenceSchema, inf)).toBe('{"numeric":{"hasMinimum":true,"minimum":-1000,"maximum":"Infinity"}}');
  });

  it("writes timestamps with a +00:00 offset and reads either form", () => {
    const spec = create(MaterializationSpec_BindingSchema, {
      notBefore: timestampFromDate(new Date("2023-11-14T22:21:40.123Z")),
      notAfter: { seconds: 1700000000n, nanos: 5 },
    });
    const json = toFlowJson(MaterializationSpec_BindingSchema, spec);
    expect(json).toContain('"notBefore":"2023-11-14T22:21:40.123+00:00"');
    expect(json).toContain('"notAfter":"2023-11-14T22:13:20.000000005+00:00"');
    const back = fromFlowJson(MaterializationSpec_BindingSchema, json);
    expect(back.notBefore).toEqual(spec.notBefore);
    expect(back.notAfter).toEqual(spec.notAfter);
    const z = fromFlowJson(Request_FlushSchema, '{"backfillBegins":[{"binding":1,"timestamp":"2023-11-14T22:13:20Z"}]}');
    expect(z.backfillBegins[0]!.timestamp!.seconds).toBe(1700000000n);
    const offset = fromFlowJson(Request_FlushSchema, '{"backfillBegins":[{"timestamp":"2023-11-14T22:13:20.5-01:00"}]}');
    expect(toFlowJson(Request_FlushSchema, offset)).toBe('{"backfillBegins":[{"timestamp":"2023-11-14T23:13:20.500+00:00"}]}');
    expect(() => fromFlowJson(Request_FlushSchema, '{"backfillBegins":[{"timestamp":"yesterday"}]}')).toThrow(
      'materialize.Request.Flush: materialize.Request.Flush.BackfillBegin.timestamp: invalid google.protobuf.Timestamp "yesterday": invalid RFC 3339 string at offset 32',
    );
  });

  it("writes durations as protojson strings", () => {
    const t = fromJson(ShardSpecSchema, { id: "s", maxTxnDuration: "62.250s" });
    expect(toFlowJson(ShardSpecSchema, t)).toBe('{"id":"s","maxTxnDuration":"62.250s"}');
    const back = fromFlowJson(ShardSpecSchema, '{"id":"s","max_txn_duration":"1.5s"}');
    expect(back.maxTxnDuration).toMatchObject({ seconds: 1n, nanos: 500000000 });
    expect(() => fromFlowJson(ShardSpecSchema, '{"maxTxnDuration":"soon"}')).toThrow(/consumer\.ShardSpec\.max_txn_duration: invalid google\.protobuf\.Duration "soon"/);
  });

  it("writes bytes as base64 and reads standard or url-safe base64", () => {
    const msg = fromFlowJson(MaterializeRequestSchema, '{"load":{"binding":1,"key":["a"],"keyPacked":"-_8="},"$internal":"EgJIaRgB"}');
    expect([...msg.load!.keyPacked]).toEqual([0xfb, 0xff]);
    expect([...msg.internal]).toEqual([0x12, 0x02, 0x48, 0x69, 0x18, 0x01]);
    expect(toFlowJson(MaterializeRequestSchema, msg)).toBe('{"load":{"binding":1,"key":["a"],"keyPacked":"+/8="},"$internal":"EgJIaRgB"}');
    expect(() => fromFlowJson(MaterializeRequestSchema, '{"load":{"keyPacked":"!!"}}')).toThrow(/materialize\.Request\.Load\.key_packed: invalid base64/);
  });

  it("omits zero values and keeps non-zero ones, like protojson", () => {
    const spec = create(CaptureSpecSchema, { name: "c", intervalSeconds: 0, bindings: [] });
    expect(toFlowJson(CaptureSpecSchema, spec)).toBe('{"name":"c"}');
    const again = create(CaptureSpecSchema, { name: "", connectorType: 7, configJson: bytes('{"a":1}'), intervalSeconds: 30 });
    expect(JSON.parse(toFlowJson(CaptureSpecSchema, again))).toEqual({ connectorType: "IMAGE", config: { a: 1 }, intervalSeconds: 30 });
  });
});

describe("the explicit zero checkpoint", () => {
  it("encodes to Flow's sentinel bytes and survives a protobuf round trip", () => {
    const resp = create(MaterializeResponseSchema, { opened: { runtimeCheckpoint: zeroCheckpoint() } });
    const wire = toBinary(MaterializeResponseSchema, resp);
    expect(Buffer.from(wire).toString("hex")).toBe("22080a06f8ffffff0f01");
    const back = fromBinary(MaterializeResponseSchema, wire);
    expect(back.opened?.runtimeCheckpoint?.$unknown).toEqual([{ no: 536870911, wireType: 0, data: new Uint8Array([1]) }]);
    expect(Buffer.from(toBinary(MaterializeResponseSchema, back)).toString("hex")).toBe("22080a06f8ffffff0f01");
    expect(isZeroCheckpoint(back.opened?.runtimeCheckpoint)).toBe(true);
    // Flow JSON cannot carry unknown fields: the checkpoint renders as {}.
    expect(toFlowJson(MaterializeResponseSchema, back)).toBe('{"opened":{"runtimeCheckpoint":{}}}');
  });

  it("is recognised only for a present, empty checkpoint", () => {
    expect(isZeroCheckpoint(undefined)).toBe(false);
    expect(isZeroCheckpoint(create(CheckpointSchema))).toBe(true);
    expect(isZeroCheckpoint(create(CheckpointSchema, { sources: { j: { readThrough: 1n } } }))).toBe(false);
    expect(isZeroCheckpoint(create(CheckpointSchema, { ackIntents: { j: new Uint8Array([1]) } }))).toBe(false);
    const a = zeroCheckpoint();
    a.$unknown!.length = 0;
    expect(zeroCheckpoint().$unknown).toHaveLength(1); // each call is a fresh value
  });
});
