/**
 * The smallest materialization an SDK or transport test can run a session
 * with: bindings named t0, t1, … over collections acme/c0, acme/c1, …
 * keyed by /id, a required `id` field, an Apply that does nothing, and the
 * transactor the test gives (built at each Open).
 */
import { create } from "@bufbuild/protobuf";
import { CollectionSpecSchema, MaterializationSpecSchema, type MaterializationSpec } from "../../src/gen/flow/flow_pb.js";
import { ConstraintType, type MaterializeConnector, type Transactor } from "../../src/sdk/types.js";

const enc = new TextEncoder();

/** A spec of `bindings` bindings whose field selection has `values` beside the key and the document. */
export function bindingsSpec(bindings: number, values: string[] = []): MaterializationSpec {
  return create(MaterializationSpecSchema, {
    name: "acme/mat",
    configJson: enc.encode("{}"),
    bindings: Array.from({ length: bindings }, (_, i) => ({
      resourceConfigJson: enc.encode(JSON.stringify({ table: `t${i}` })),
      resourcePath: [`t${i}`],
      collection: create(CollectionSpecSchema, { name: `acme/c${i}`, key: ["/id"] }),
      fieldSelection: { keys: ["id"], values, document: "flow_document" },
    })),
  });
}

/** A connector named `name` whose sessions use the transactor `make()` returns. */
export function transactorConnector(name: string, make: () => Transactor): MaterializeConnector {
  return {
    protocol: "materialize",
    name,
    documentationUrl: "",
    configSchema: { type: "object" },
    resourceConfigSchema: { type: "object", properties: { table: { type: "string" } }, required: ["table"] },
    async validate({ bindings }) {
      return bindings.map(() => ({ constraints: { id: { type: ConstraintType.FIELD_REQUIRED, reason: "key" } }, resourcePath: ["t"], deltaUpdates: false }));
    },
    async apply() {
      return { actionDescription: "" };
    },
    async open() {
      return { transactor: make() };
    },
  };
}
