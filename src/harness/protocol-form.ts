/**
 * The two forms of the protocol the harness can speak, as the runtime does:
 *
 * - `newest` (the default): requests and specs carry `linked_collections`
 *   once and each binding only a `collection_index` into it; Validated is
 *   read from `projection_constraints`, where a field left out is forbidden.
 * - `legacy`: each binding carries its `collection`; Validated is read from
 *   the `constraints` map (older runtimes).
 */
import { create } from "@bufbuild/protobuf";
import {
  CaptureSpecSchema,
  MaterializationSpecSchema,
  type CaptureSpec,
  type CollectionSpec,
  type FieldSelection,
  type MaterializationSpec,
} from "../gen/flow/flow_pb.js";
import type { Response_Validated_Binding, Response_Validated_Constraint } from "../gen/materialize/materialize_pb.js";
import { HarnessError, ProtocolViolation } from "./errors.js";

export type ProtocolForm = "newest" | "legacy";

export const DEFAULT_PROTOCOL_FORM: ProtocolForm = "newest";

export function parseProtocolForm(value: unknown, flag: string): ProtocolForm {
  if (value === undefined) return DEFAULT_PROTOCOL_FORM;
  if (value === "newest" || value === "legacy") return value;
  throw new HarnessError(`${flag} must be newest or legacy, got ${JSON.stringify(value)}`);
}

interface Linkable {
  collection?: CollectionSpec;
  collectionIndex: number;
}

/**
 * The indirect form of `bindings`: their collections listed once each (by
 * name, in order of first use), each binding keeping only its index.
 */
export function linkCollections<B extends Linkable>(bindings: B[]): { linkedCollections: CollectionSpec[]; bindings: B[] } {
  const linkedCollections: CollectionSpec[] = [];
  const index = new Map<string, number>();
  const out = bindings.map((b) => {
    if (!b.collection) return b;
    let i = index.get(b.collection.name);
    if (i === undefined) {
      i = linkedCollections.length;
      index.set(b.collection.name, i);
      linkedCollections.push(b.collection);
    }
    return { ...b, collection: undefined, collectionIndex: i };
  });
  return { linkedCollections, bindings: out };
}

/** `spec` as the runtime of `form` sends it (the built spec itself is always direct). */
export function captureSpecInForm(spec: CaptureSpec, form: ProtocolForm): CaptureSpec;
export function captureSpecInForm(spec: CaptureSpec | undefined, form: ProtocolForm): CaptureSpec | undefined;
export function captureSpecInForm(spec: CaptureSpec | undefined, form: ProtocolForm): CaptureSpec | undefined {
  if (!spec || form === "legacy") return spec;
  const linked = linkCollections([...spec.bindings, ...spec.inactiveBindings]);
  return create(CaptureSpecSchema, {
    ...spec,
    linkedCollections: linked.linkedCollections,
    bindings: linked.bindings.slice(0, spec.bindings.length),
    inactiveBindings: linked.bindings.slice(spec.bindings.length),
  });
}

export function materializationSpecInForm(spec: MaterializationSpec, form: ProtocolForm): MaterializationSpec;
export function materializationSpecInForm(spec: MaterializationSpec | undefined, form: ProtocolForm): MaterializationSpec | undefined;
export function materializationSpecInForm(spec: MaterializationSpec | undefined, form: ProtocolForm): MaterializationSpec | undefined {
  if (!spec || form === "legacy") return spec;
  const linked = linkCollections([...spec.bindings, ...spec.inactiveBindings]);
  return create(MaterializationSpecSchema, {
    ...spec,
    linkedCollections: linked.linkedCollections,
    bindings: linked.bindings.slice(0, spec.bindings.length),
    inactiveBindings: linked.bindings.slice(spec.bindings.length),
  });
}

const VALIDATED = "materialize.Response.Validated";

/**
 * The constraints of one Validated binding, by field, as the runtime of
 * `form` reads them: the newest runtime reads `projection_constraints` only;
 * an older one reads the `constraints` map. When a connector sends both,
 * they must agree, or the two runtimes would select different fields.
 */
// Several entries for one field are allowed upstream (their meaning is not
// pinned down here): the last one is used.
export function validatedConstraints(b: Response_Validated_Binding, form: ProtocolForm, at: string): Record<string, Response_Validated_Constraint> {
  const fromList: Record<string, Response_Validated_Constraint> = {};
  for (const pc of b.projectionConstraints) {
    if (!pc.constraint) throw new ProtocolViolation(VALIDATED, "projection-constraint-empty", `${at}: the projection constraint of field ${JSON.stringify(pc.field)} has no constraint`);
    fromList[pc.field] = pc.constraint;
  }
  const legacy = b.constraints;
  if (b.projectionConstraints.length > 0 && Object.keys(legacy).length > 0) {
    const fields = new Set([...Object.keys(fromList), ...Object.keys(legacy)]);
    for (const f of fields) {
      if (fromList[f]?.type !== legacy[f]?.type) {
        throw new ProtocolViolation(
          VALIDATED,
          "constraint-forms-disagree",
          `${at}: field ${JSON.stringify(f)} is ${fromList[f] ? `type ${fromList[f]!.type}` : "absent"} in projection_constraints but ${legacy[f] ? `type ${legacy[f]!.type}` : "absent"} in the constraints map`,
        );
      }
    }
  }
  if (form === "newest" && b.projectionConstraints.length === 0 && Object.keys(legacy).length > 0) {
    throw new ProtocolViolation(
      VALIDATED,
      "projection-constraints-missing",
      `${at}: the binding has only the legacy constraints map; a current Flow runtime reads projection_constraints and would forbid every field (run with --protocol-form legacy to preview under an older runtime)`,
    );
  }
  return form === "newest" ? fromList : legacy;
}

/**
 * Under the newest runtime a selected field needs a projection constraint:
 * one left out is forbidden and the publication fails.
 */
export function checkSelectionCovered(b: Response_Validated_Binding, selection: FieldSelection, form: ProtocolForm, at: string): void {
  if (form !== "newest") return;
  const covered = new Set(b.projectionConstraints.map((p) => p.field));
  for (const f of [...selection.keys, ...selection.values, ...(selection.document ? [selection.document] : [])]) {
    if (!covered.has(f)) {
      throw new ProtocolViolation(
        VALIDATED,
        "projection-constraints-cover-selection",
        `${at}: selected field ${JSON.stringify(f)} has no projection constraint; a current Flow runtime would forbid it`,
      );
    }
  }
}
