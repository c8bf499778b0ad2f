/**
 * How each Store becomes one apply record: the unit the connector stages,
 * and the unit applied as one JetStream publish.
 *
 *   put      KV put: publish the value to `$KV.<bucket>.<key>`
 *   del      KV delete: publish an empty message with `KV-Operation: DEL`
 *   upsert   delta binding: publish the payload to the subject, with
 *   delete     headers Flow-Key (the key's JSON) and Flow-Action (delete
 *            when the Store deletes or the document's _meta/op is "d")
 *
 * A KV put or delete is the same publish the KV client makes, so every
 * apply publish can carry a Nats-Msg-Id (see apply.ts).
 */
import { ConnectorError } from "../../src/sdk/errors.js";
import type { MaterializeBinding, StoreRequest } from "../../src/sdk/types.js";
import { targetOf, type ResourceConfig, type Target, type ValueFormat } from "./config.js";
import { arrayElements } from "../../src/codec/json-elements.js";
import { isTombstone } from "../../src/sdk/meta-op.js";
import { objectText } from "./json-elements.js";
import { kvKey } from "./keys.js";

export const RecordKind = { put: 1, del: 2, upsert: 3, delete: 4 } as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

export interface ApplyRecord {
  kind: RecordKind;
  binding: number;
  subject: string;
  /** Delta records: the document key's JSON (the Flow-Key header); else "". */
  key: string;
  payload: string;
}

export interface BindingPlan {
  target: Target;
  format: ValueFormat;
  softDelete: boolean;
  keys: string[];
  values: string[];
  /** The selected document field, or "". */
  document: string;
}

export function planBinding(b: MaterializeBinding<ResourceConfig>, i: number): BindingPlan {
  const r = b.resourceConfig;
  const target = targetOf(r, b.deltaUpdates, `binding ${i}`);
  const format = r.format ?? "json";
  if (!b.deltaUpdates && !b.document) {
    throw new ConnectorError(`binding ${i} (bucket ${target.kind === "kv" ? target.bucket : ""}) selects no document field, which standard updates need to answer Loads`);
  }
  if (format === "json" && !b.document) {
    throw new ConnectorError(`binding ${i} selects no document field, which the json format publishes; choose the fields format to publish selected fields`);
  }
  return { target, format, softDelete: r.soft_delete ?? false, keys: b.keys, values: b.values, document: b.document };
}

/** The value of the fields format: the selected key, value and document fields as one object. */
function fieldsText(plan: BindingPlan, s: StoreRequest): string {
  const names = [...plan.keys];
  const texts = arrayElements(s.keyJson, "store key");
  if (plan.values.length) {
    names.push(...plan.values);
    texts.push(...arrayElements(s.valuesJson, "store values"));
  }
  if (plan.document && s.docJson) {
    names.push(plan.document);
    texts.push(s.docJson);
  }
  return objectText(names, texts);
}

function payloadOf(plan: BindingPlan, s: StoreRequest): string {
  return plan.format === "json" ? s.docJson : fieldsText(plan, s);
}

export function recordOf(plan: BindingPlan, s: StoreRequest): ApplyRecord {
  const t = plan.target;
  if (t.kind === "subject") {
    // Delta bindings receive deletions as documents whose _meta/op is "d".
    const deleted = s.delete || (s.docJson !== "" && isTombstone(s.docJson));
    return { kind: deleted ? RecordKind.delete : RecordKind.upsert, binding: s.binding, subject: t.subject, key: s.keyJson, payload: payloadOf(plan, s) };
  }
  let key: string;
  try {
    key = kvKey(s.keyJson);
  } catch (err) {
    throw new ConnectorError(`binding ${s.binding} (bucket ${t.bucket}): ${(err as Error).message}`);
  }
  const subject = `$KV.${t.bucket}.${key}`;
  if (s.delete && !plan.softDelete) return { kind: RecordKind.del, binding: s.binding, subject, key: "", payload: "" };
  return { kind: RecordKind.put, binding: s.binding, subject, key: "", payload: payloadOf(plan, s) };
}
