/**
 * Flow's protos have no oneofs or proto3 `optional` fields today; this checks
 * the codec handles them anyway, on a schema built at run time.
 */
import { create, createFileRegistry, fromJson, toJson, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { fromFlowJson, toFlowJson } from "./flow-json.js";

const file = fromJson(FileDescriptorProtoSchema, {
  name: "oneof_test.proto",
  package: "t",
  syntax: "proto3",
  messageType: [
    {
      name: "M",
      field: [
        { name: "text", number: 1, type: "TYPE_STRING", label: "LABEL_OPTIONAL", oneofIndex: 0, jsonName: "text" },
        { name: "doc_json", number: 2, type: "TYPE_BYTES", label: "LABEL_OPTIONAL", oneofIndex: 0, jsonName: "doc" },
        { name: "count", number: 3, type: "TYPE_INT64", label: "LABEL_OPTIONAL", oneofIndex: 1, proto3Optional: true, jsonName: "count" },
        { name: "plain", number: 4, type: "TYPE_UINT32", label: "LABEL_OPTIONAL", jsonName: "plain" },
      ],
      oneofDecl: [{ name: "kind" }, { name: "_count" }],
    },
  ],
});
const M = createFileRegistry(file, () => undefined).getMessage("t.M") as DescMessage;

describe("oneof and explicit-presence fields", () => {
  it("writes the set oneof member, raw JSON included", () => {
    const msg = create(M, { kind: { case: "docJson", value: Buffer.from('{"a":12345678901234567890}') } } as never);
    expect(toFlowJson(M, msg)).toBe('{"doc":{"a":12345678901234567890}}');
    const text = create(M, { kind: { case: "text", value: "" } } as never);
    // A set oneof member is written even when it holds its zero value.
    expect(toFlowJson(M, text)).toBe('{"text":""}');
    expect(JSON.parse(toFlowJson(M, text))).toEqual(toJson(M, text));
  });

  it("reads oneof members into the oneof group", () => {
    const msg = fromFlowJson(M, '{"plain":2,"doc":[1.50]}') as unknown as { kind: { case: string; value: Uint8Array }; plain: number };
    expect(msg.kind.case).toBe("docJson");
    expect(Buffer.from(msg.kind.value).toString()).toBe("[1.50]");
    expect(msg.plain).toBe(2);
    const none = fromFlowJson(M, '{"text":null}') as unknown as { kind: { case: undefined } };
    expect(none.kind.case).toBeUndefined();
  });

  it("writes a proto3 optional field whenever it is set, even to zero", () => {
    const zero = create(M, { count: 0n } as never);
    expect(toFlowJson(M, zero)).toBe('{"count":"0"}');
    expect(toFlowJson(M, create(M))).toBe("{}");
    const back = fromFlowJson(M, '{"count":"0"}') as unknown as { count?: bigint };
    expect(back.count).toBe(0n);
    expect((fromFlowJson(M, "{}") as unknown as { count?: bigint }).count).toBeUndefined();
  });
});
