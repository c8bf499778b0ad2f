/**
 * Answering Loads: keys are gathered in batches while they arrive, and each
 * batch is read (MGET for json bindings, pipelined HGET of the document
 * field for hash bindings) only once the previous transaction is applied.
 */
import type { Redis } from "ioredis";
import { RawJson, type LoadIterator, type LoadRequest } from "../../src/sdk/types.js";
import { redisKey } from "./keys.js";
import { isTombstone, type BindingPlan } from "./records.js";

const BATCH = 1000;
const AHEAD = 8;

type Loaded = (binding: number, doc: unknown) => void | Promise<void>;

async function readBatch(redis: Redis, plans: BindingPlan[], batch: LoadRequest[], loaded: Loaded): Promise<void> {
  const keys = batch.map((l) => redisKey(plans[l.binding]!.prefix, l.keyJson));
  let values: Array<string | null>;
  if (batch.every((l) => plans[l.binding]!.format === "json")) {
    values = await redis.mget(keys);
  } else {
    const p = redis.pipeline();
    batch.forEach((l, i) => {
      const plan = plans[l.binding]!;
      if (plan.format === "json") p.get(keys[i]!);
      else p.hget(keys[i]!, plan.document);
    });
    const replies = (await p.exec()) ?? [];
    values = replies.map(([err, v]) => {
      if (err) throw err;
      return v as string | null;
    });
  }
  for (let i = 0; i < batch.length; i++) {
    const text = values[i];
    if (text === null || text === undefined) continue;
    const l = batch[i]!;
    if (plans[l.binding]!.softDelete && isTombstone(text)) continue; // deleted: the key does not exist for Flow
    await loaded(l.binding, new RawJson(text));
  }
}

export async function loadDocuments(redis: Redis, plans: BindingPlan[], it: LoadIterator, loaded: Loaded): Promise<void> {
  const inflight: Array<Promise<void>> = [];
  let batch: LoadRequest[] = [];
  const send = async () => {
    // Read-committed: never read before the previous transaction is applied.
    await it.committed();
    const p = readBatch(redis, plans, batch, loaded);
    p.catch(() => undefined);
    inflight.push(p);
    batch = [];
    if (inflight.length >= AHEAD) await inflight.shift();
  };
  for await (const l of it) {
    batch.push(l);
    if (batch.length >= BATCH) await send();
  }
  if (batch.length) await send();
  for (const p of inflight) await p;
}
