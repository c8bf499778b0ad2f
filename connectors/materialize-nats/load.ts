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
import type { RequestPipe } from "./pipe.js";

type Loaded = (binding: number, doc: unknown) => void | Promise<void>;

const dec = new TextDecoder();
const EMPTY = new Uint8Array(0);

/** The document a stored value holds for Flow, or undefined when the key counts as absent. */
export function storedDocument(plan: BindingPlan, value: string): string | undefined {
  const doc = plan.format === "fields" ? memberText(value, plan.document, "stored value") : value;
  if (doc === undefined) return undefined;
  if (plan.softDelete && isTombstone(doc)) return undefined;
  return doc;
}

/** Where a standard binding's Loads read: its bucket, and the direct-get subject prefix when the bucket serves direct gets. */
export interface LoadSource {
  kv: KV;
  /** `$JS.API.DIRECT.GET.KV_<bucket>.$KV.<bucket>.`, when the bucket's stream allows direct gets and mirrors nothing. */
  direct: string | undefined;
}

/**
 * Reads the keys (the previous transaction is applied by now), up to
 * `concurrency` gets at a time: direct gets of each key's last value through
 * the pipe, or the KV client's get for a bucket that does not serve them.
 */
export async function loadDocuments(
  sources: Array<LoadSource | undefined>,
  plans: BindingPlan[],
  keys: LoadRequest[],
  loaded: Loaded,
  concurrency: number,
  pipe: RequestPipe,
): Promise<void> {
  let pending = 0;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const low = concurrency >> 1;
  const settled = () => {
    pending--;
    if (wake && (failure !== undefined || pending <= low)) {
      const w = wake;
      wake = undefined;
      w();
    }
  };
  const fail = (err: unknown) => {
    failure ??= err;
  };
  const found = (binding: number, value: Uint8Array) => {
    let p: void | Promise<void>;
    try {
      const doc = storedDocument(plans[binding]!, dec.decode(value));
      if (doc === undefined) return settled();
      p = loaded(binding, new RawJson(doc));
    } catch (err) {
      fail(err);
      return settled();
    }
    if (p) p.then(settled, (err) => (fail(err), settled()));
    else settled();
  };
  const wait = async (to: number) => {
    while (pending > to && failure === undefined) await new Promise<void>((resolve) => (wake = resolve));
    if (failure !== undefined) throw failure;
  };
  for (const l of keys) {
    const src = sources[l.binding];
    if (!src) throw new ConnectorError(`binding ${l.binding} received a Load, but it is a delta binding, which is never loaded`);
    const key = kvKey(l.keyJson);
    pending++;
    if (src.direct) {
      const binding = l.binding;
      pipe.request(src.direct + key, EMPTY, undefined, (err, msg) => {
        if (err) return fail(err), settled();
        const h = msg!.headers;
        const code = h?.code ?? 0;
        if (code === 404) return settled();
        if (code !== 0) return fail(new Error(`direct get of key ${key}: ${code} ${h?.description ?? ""}`.trim())), settled();
        const op = h?.get("KV-Operation");
        if (op === "DEL" || op === "PURGE") return settled();
        found(binding, msg!.data);
      });
    } else {
      src.kv.get(key).then(
        (e) => (e && e.operation === "PUT" ? found(l.binding, e.value) : settled()),
        (err) => (fail(err), settled()),
      );
    }
    if (pending >= concurrency) await wait(low);
    if (failure !== undefined) throw failure;
  }
  await wait(0);
}
