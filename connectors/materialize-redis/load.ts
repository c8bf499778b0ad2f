/**
 * Answering Loads: keys are gathered in batches while they arrive, and each
 * batch is read (MGET for json bindings, pipelined HGET of the document
 * field for hash bindings) once the previous transaction is applied, or
 * before that when the batch holds none of its keys.
 *
 * MGET replies are taken as Buffers and handed to the runtime as they are
 * (RawJsonBytes), so a loaded document is neither decoded into a string nor
 * encoded back. ioredis's parser gives out slices of buffers it never
 * writes again, as RawJsonBytes requires. A value that is not valid UTF-8
 * takes the text path, which replaces its bad bytes as before.
 */
import { isUtf8 } from "node:buffer";
import type { Redis } from "ioredis";
import { RawJson, RawJsonBytes, type LoadIterator, type LoadRequest } from "../../src/sdk/types.js";
import { redisKey } from "./keys.js";
import { isTombstone, type BindingPlan } from "./records.js";
import type { PendingKeys } from "./pending-keys.js";

const BATCH = 1000;
const AHEAD = 8;
/** Batches, and characters of values, read ahead of the previous apply and held for it; past either, reads wait. */
const EARLY_BATCHES = 16;
const EARLY_BYTES = 8 << 20;

type Loaded = (binding: number, doc: unknown) => void | Promise<void>;

type Value = string | Buffer | null;

/** The batch's values (null for a key that does not exist). */
async function readBatch(redis: Redis, plans: BindingPlan[], batch: LoadRequest[], keys: string[]): Promise<Value[]> {
  if (batch.every((l) => plans[l.binding]!.format === "json")) return redis.mgetBuffer(keys);
  const p = redis.pipeline();
  batch.forEach((l, i) => {
    const plan = plans[l.binding]!;
    if (plan.format === "json") p.get(keys[i]!);
    else p.hget(keys[i]!, plan.document);
  });
  const replies = (await p.exec()) ?? [];
  return replies.map(([err, v]) => {
    if (err) throw err;
    return v as string | null;
  });
}

async function answer(plans: BindingPlan[], batch: LoadRequest[], values: Value[], loaded: Loaded): Promise<void> {
  for (let i = 0; i < batch.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    const l = batch[i]!;
    const bytes = typeof v === "string" || !isUtf8(v) ? undefined : v;
    const text = bytes ? undefined : v.toString();
    // deleted: the key does not exist for Flow
    if (plans[l.binding]!.softDelete && isTombstone(text ?? v.toString())) continue;
    const p = loaded(l.binding, bytes ? new RawJsonBytes(bytes) : new RawJson(text!));
    if (p) await p; // no turn of the event loop per document when the output is not full
  }
}

/**
 * Answers a transaction's Loads. `pending` says which keys the previous
 * transaction's apply may still change (pending-keys.ts): a batch with none
 * of them is read without waiting for that apply, and answered after it.
 * Without `pending`, every batch waits.
 */
export async function loadDocuments(redis: Redis, plans: BindingPlan[], it: LoadIterator, loaded: Loaded, pending?: PendingKeys): Promise<void> {
  const inflight: Array<Promise<void>> = [];
  // Batches read early are answered one after another once the apply is
  // done, not all at once (each answer may wait for the output to drain).
  let early: Promise<void> = Promise.resolve();
  let earlyBatches = 0;
  let committed = false;
  void it.committed().then(() => (committed = true), () => undefined);
  let heldBytes = 0;
  let batch: LoadRequest[] = [];
  const send = async () => {
    const b = batch;
    batch = [];
    const keys = b.map((l) => redisKey(plans[l.binding]!.prefix, l.keyJson));
    if (!committed && pending && earlyBatches < EARLY_BATCHES && heldBytes < EARLY_BYTES && !keys.some((k) => pending.mayWrite(k))) {
      earlyBatches++;
      const read = readBatch(redis, plans, b, keys).then((values) => {
        for (const v of values) heldBytes += v?.length ?? 0;
        return values;
      });
      read.catch(() => undefined);
      early = early.then(async () => {
        const values = await read;
        await it.committed();
        await answer(plans, b, values, loaded);
      });
      early.catch(() => undefined);
      return;
    }
    // Read-committed: never read a key before the previous transaction is applied.
    await it.committed();
    const p = readBatch(redis, plans, b, keys).then((values) => answer(plans, b, values, loaded));
    p.catch(() => undefined);
    inflight.push(p);
    if (inflight.length >= AHEAD) await inflight.shift();
  };
  for await (const l of it) {
    batch.push(l);
    if (batch.length >= BATCH) await send();
  }
  if (batch.length) await send();
  await early;
  for (const p of inflight) await p;
}
