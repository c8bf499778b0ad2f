/** documentValueConstraints: the key/root/json-format rules of stores whose value is the document or selected fields. */
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { CollectionSpecSchema } from "../../src/gen/flow/flow_pb.js";
import { documentValueConstraints, type DocumentValueRules } from "../../src/sdk/document-value.js";
import { ConstraintType } from "../../src/sdk/types.js";

const { projections } = create(CollectionSpecSchema, {
  name: "acme/things",
  key: ["/id"],
  projections: [
    { field: "id", ptr: "/id", isPrimaryKey: true },
    { field: "name", ptr: "/name" },
    { field: "flow_document", ptr: "" },
    { field: "doc_again", ptr: "" },
  ],
});
const rules = (wholeDocument: boolean, delta: boolean): DocumentValueRules => ({
  wholeDocument,
  delta,
  keyReason: "key",
  keptReason: "kept",
  optionalReason: "optional",
  fieldsFormat: "hash",
});

describe("documentValueConstraints", () => {
  it("json format: key and document required, other fields and a second root forbidden, nothing left over", () => {
    const { out, rest } = documentValueConstraints(projections, rules(true, true));
    expect(out.id).toEqual({ type: ConstraintType.LOCATION_REQUIRED, reason: "key" });
    expect(out.flow_document?.type).toBe(ConstraintType.FIELD_REQUIRED);
    expect(out.doc_again?.type).toBe(ConstraintType.FIELD_FORBIDDEN);
    expect(out.name?.type).toBe(ConstraintType.FIELD_FORBIDDEN);
    expect(out.name?.reason).toMatch(/hash format/);
    expect(rest).toEqual([]);
  });
  it("fields format: the document is kept for standard updates, optional for delta; value fields are left to the connector", () => {
    const standard = documentValueConstraints(projections, rules(false, false));
    expect(standard.out.flow_document).toEqual({ type: ConstraintType.FIELD_REQUIRED, reason: "kept" });
    expect(standard.rest.map((p) => p.field)).toEqual(["name"]);
    expect(standard.out.name).toBeUndefined();
    const delta = documentValueConstraints(projections, rules(false, true));
    expect(delta.out.flow_document).toEqual({ type: ConstraintType.FIELD_OPTIONAL, reason: "optional" });
  });
});
