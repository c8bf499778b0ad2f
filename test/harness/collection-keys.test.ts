/**
 * The key locations Flow accepts, checked when the harness builds a
 * collection: each error names the collection, the key pointer and why.
 * Rule (estuary/flow: `is_keyable_type` and the validation of key
 * locations): a declared location that must exist, of exactly one scalar
 * type (boolean, integer, number or string; null may be added), whose
 * reduction is lastWriteWins or unset.
 */
import { describe, expect, it } from "vitest";
import { buildCollection } from "../../src/harness/collection-spec.js";
import { HarnessError } from "../../src/harness/errors.js";

const keyed = (at: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  buildCollection("acmeCo/k", { schema: { type: "object", properties: { k: at }, required: ["k"], ...extra }, key: ["/k"] });

describe("collection key locations", () => {
  it("accepts each single scalar type, nullable or not, and lastWriteWins", () => {
    for (const type of ["boolean", "integer", "number", "string", ["string", "null"], ["integer", "null"]]) {
      expect(() => keyed({ type }), JSON.stringify(type)).not.toThrow();
    }
    expect(() => keyed({ type: "string", reduce: { strategy: "lastWriteWins" } })).not.toThrow();
  });

  it("refuses objects, arrays, mixed types and null-only, naming the pointer and the reason", () => {
    const cases: [unknown, RegExp][] = [
      [{ type: "object" }, /key\[0\] \/k must have a single scalar type .* has \["object"\]: objects and arrays cannot be keys/],
      [{ type: "array" }, /key\[0\] \/k .* has \["array"\]: objects and arrays cannot be keys/],
      [{ type: ["number", "string"] }, /key\[0\] \/k .* has \["number","string"\]: a key location may not mix types/],
      [{ type: "null" }, /key\[0\] \/k .* it can only be null/],
      [{}, /key\[0\] \/k .*: objects and arrays cannot be keys/],
    ];
    for (const [schema, re] of cases) {
      expect(() => keyed(schema as Record<string, unknown>), JSON.stringify(schema)).toThrow(re);
    }
  });

  it("refuses a key with a reduction other than lastWriteWins", () => {
    expect(() => keyed({ type: "integer", reduce: { strategy: "sum" } })).toThrow(HarnessError);
    expect(() => keyed({ type: "integer", reduce: { strategy: "sum" } })).toThrow(/collection "acmeCo\/k": key\[0\] \/k has reduce strategy "sum"; a key location may only use lastWriteWins/);
    expect(() => keyed({ type: "string", reduce: { strategy: "firstWriteWins" } })).toThrow(/\/k has reduce strategy "firstWriteWins"/);
  });

  it("refuses a key reached only through additionalProperties or patternProperties", () => {
    const implicit = () => buildCollection("acmeCo/k", { schema: { type: "object", additionalProperties: { type: "string" } }, key: ["/k"] });
    expect(implicit).toThrow(/key\[0\] \/k is not a declared property \(only additionalProperties or patternProperties reach it\)/);
    const pattern = () => buildCollection("acmeCo/k", { schema: { type: "object", patternProperties: { "^k": { type: "string" } } }, key: ["/k"] });
    expect(pattern).toThrow(/\/k is not a declared property/);
  });

  it("refuses a key that may be absent and has no default", () => {
    expect(() => keyed({ type: "string" }, { required: [] })).toThrow(/key\[0\] \/k is not required to exist \(exists MAY\)/);
    expect(() => keyed({ type: "string", default: "x" }, { required: [] })).not.toThrow();
  });
});
