/**
 * How the runtime turns a collection document into a materialization
 * binding's Load/Store: the key (group-by) fields, the value fields and the
 * document field chosen by field selection, each read from its projection.
 */
import type { MaterializationSpec_Binding, Projection } from "../gen/flow/flow_pb.js";
import { FLOW_PUBLISHED_AT, FLOW_TRUNCATED, TRUNCATED_PTR, UUID_PTR } from "./collection-spec.js";
import { getAt, parsePointer } from "./json-pointer.js";
import type { Shape } from "./schema-shape.js";
import { uuidTime } from "./uuid.js";
import { HarnessError } from "./errors.js";

interface FieldPlan {
  field: string;
  tokens: string[];
  kind: "plain" | "published-at" | "truncated";
  default: unknown;
}

export interface BindingPlan {
  index: number;
  collection: string;
  stateKey: string;
  deltaUpdates: boolean;
  shape: Shape;
  keys: FieldPlan[];
  values: FieldPlan[];
  withDocument: boolean;
}

function planField(binding: MaterializationSpec_Binding, field: string): FieldPlan {
  const p: Projection | undefined = binding.collection!.projections.find((x) => x.field === field);
  if (!p) throw new HarnessError(`binding ${binding.stateKey}: selected field ${JSON.stringify(field)} is not a projection`);
  let kind: FieldPlan["kind"] = "plain";
  if (p.ptr === UUID_PTR && (field === FLOW_PUBLISHED_AT || p.inference?.string?.contentEncoding === "uuid")) kind = "published-at";
  else if (p.ptr === TRUNCATED_PTR && field === FLOW_TRUNCATED) kind = "truncated";
  const defaultJson = p.inference?.defaultJson;
  return {
    field,
    tokens: parsePointer(p.ptr),
    kind,
    default: defaultJson && defaultJson.length ? JSON.parse(new TextDecoder().decode(defaultJson)) : null,
  };
}

export function planBinding(index: number, binding: MaterializationSpec_Binding, shape: Shape): BindingPlan {
  const fs = binding.fieldSelection!;
  return {
    index,
    collection: binding.collection!.name,
    stateKey: binding.stateKey,
    deltaUpdates: binding.deltaUpdates,
    shape,
    keys: fs.keys.map((f) => planField(binding, f)),
    values: fs.values.map((f) => planField(binding, f)),
    withDocument: fs.document !== "",
  };
}

function extract(f: FieldPlan, doc: unknown): unknown {
  if (f.kind === "published-at") return uuidTime(getAt(doc, f.tokens))?.toISOString() ?? null;
  if (f.kind === "truncated") return false;
  const v = getAt(doc, f.tokens);
  return v === undefined ? f.default : v;
}

/** Key values of `doc` for this binding, or the name of a missing key field. */
export function keyOf(plan: BindingPlan, doc: unknown): unknown[] | string {
  const out: unknown[] = [];
  for (const f of plan.keys) {
    const v = getAt(doc, f.tokens);
    if (v === undefined) {
      if (f.default === null) return f.field;
      out.push(f.default);
    } else out.push(v);
  }
  return out;
}

export function valuesOf(plan: BindingPlan, doc: unknown): unknown[] {
  return plan.values.map((f) => extract(f, doc));
}
