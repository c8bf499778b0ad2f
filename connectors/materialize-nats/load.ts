/**
 * Answering Loads from the KV buckets: each key is read (a direct get of
 * its last value) with many gets in flight; the sink layer calls this once
 * the previous transaction is applied. A deleted key, or a soft-deleted one, does not exist for Flow.
 */
import type { KV } from "@nats-io/kv";
import { ConnectorError } from "../../src/sdk/errors.js";
import { RawJson, type LoadRequest } from "../../src/sdk/types.js";
import { memberText } from "./json-elements.js";
import { kvKey } from "./keys.js";
import { isTombstone } from "../../src/sdk/meta-op.js";
import type { BindingPlan } from "./records.js";

type Loaded = (binding: number, doc: unknown) => void | Promise<void>;

const dec = new TextDecoder();

/** The document a stored value holds for Flow, or undefined when the key counts as absent. */
export function storedDocument(plan: BindingPlan, value: string): string | undefined {
  const doc = plan.format === "fields" ? memberText(value, plan.document, "stored value") : value;
  if (doc === undefined) return undefined;
  if (plan.softDelete && isTombstone(doc)) return undefined;
  return doc;
}

/** Reads the keys (the previous transaction is applied by now), `concurrency` gets at a time. */
export async function loadDocuments(buckets: Array<KV | undefined>, plans: BindingPlan[], keys: LoadRequest[], loaded: Loaded, concurrency: number): Promise<void> {
  const inflight = new Set<Promise<void>>();
  let failure: unknown;
  const one = async (binding: number, keyJson: string) => {
    const kv = buckets[binding];
    if (!kv) throw new ConnectorError(`binding ${binding} received a Load, but it is a delta binding, which is never loaded`);
    const e = await kv.get(kvKey(keyJson));
    if (!e || e.operation !== "PUT") return;
    const doc = storedDocument(plans[binding]!, dec.decode(e.value));
    if (doc !== undefined) await loaded(binding, new RawJson(doc));
  };
  for (const l of keys) {
    const p = one(l.binding, l.keyJson).catch((err) => {
      failure ??= err;
    });
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
    if (inflight.size >= concurrency) await Promise.race(inflight);
    if (failure) throw failure;
  }
  await Promise.all(inflight);
  if (failure) throw failure;
}
