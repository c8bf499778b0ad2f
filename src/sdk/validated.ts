/**
 * A connector's answer for one materialization binding, in both forms a
 * runtime may read: the legacy `constraints` map (older runtimes) and
 * `projection_constraints` (newest runtimes, which forbid every projection
 * missing from it). Written once here so no connector has to know either.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  Response_Validated_BindingSchema,
  Response_Validated_ConstraintSchema,
  Response_Validated_ProjectionConstraintSchema,
} from "../gen/materialize/materialize_pb.js";
import type { ValidatedBinding } from "./types.js";

export function validatedBinding(b: ValidatedBinding): MessageInitShape<typeof Response_Validated_BindingSchema> {
  const constraints: Record<string, ReturnType<typeof create<typeof Response_Validated_ConstraintSchema>>> = {};
  const projectionConstraints = [];
  for (const [field, c] of Object.entries(b.constraints)) {
    const constraint = create(Response_Validated_ConstraintSchema, {
      type: c.type as number,
      reason: c.reason,
      foldedField: c.foldedField ?? "",
    });
    constraints[field] = constraint;
    projectionConstraints.push(create(Response_Validated_ProjectionConstraintSchema, { field, constraint }));
  }
  return {
    constraints,
    projectionConstraints,
    resourcePath: b.resourcePath,
    deltaUpdates: b.deltaUpdates,
    caseInsensitiveFields: b.caseInsensitiveFields ?? false,
  };
}
