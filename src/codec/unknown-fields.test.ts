import { describe, expect, it } from "vitest";
import { fromBinary } from "@bufbuild/protobuf";
import { RequestSchema } from "../gen/materialize/materialize_pb.js";
import { fromFlowJson } from "./flow-json.js";
import { unknownFields } from "./unknown-fields.js";

describe("unknownFields", () => {
  it("finds JSON keys the schema does not know, at any depth", () => {
    const msg = fromFlowJson(RequestSchema, '{"validate":{"name":"m","futureKnob":{"a":1},"bindings":[{"resourceConfig":{},"laterField":2}]},"topLevelNew":true}');
    expect(unknownFields(RequestSchema, msg)).toEqual([
      { message: "materialize.Request", field: "topLevelNew" },
      { message: "materialize.Request.Validate", field: "futureKnob" },
      { message: "materialize.Request.Validate.Binding", field: "laterField" },
    ]);
  });

  it("finds protobuf field numbers the schema does not know", () => {
    // Request.flush (6) holding field 9 = varint 1.
    const msg = fromBinary(RequestSchema, Uint8Array.from([0x32, 0x02, 0x48, 0x01]));
    expect(unknownFields(RequestSchema, msg)).toEqual([{ message: "materialize.Request.Flush", field: 9 }]);
  });

  it("finds nothing in a message it fully knows", () => {
    expect(unknownFields(RequestSchema, fromFlowJson(RequestSchema, '{"flush":{"backfillBegins":[{"binding":1}]}}'))).toEqual([]);
  });
});
