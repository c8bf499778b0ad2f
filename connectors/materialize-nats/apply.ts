/**
 * Applying a staged transaction, idempotently.
 *
 * Chunks are read back from the staging stream in order, and each record is
 * published to its target (a `$KV.<bucket>.<key>` subject or a delta
 * binding's subject) with the Nats-Msg-Id `<epoch>:<binding>:<chunk>:<n>`,
 * where `<epoch>` is the sink layer's epoch id, derived from the runtime
 * checkpoint (the same for every apply of one committed transaction, and
 * different between transactions). After
 * every chunk's publishes are acknowledged, a progress marker in the
 * connector's KV bucket records `{id, chunks}`. So a repeated apply:
 *   - skips a transaction the marker says is complete (however late);
 *   - resumes after the last chunk the marker records;
 *   - publishes the interrupted chunk again, and JetStream drops those
 *     messages as duplicates when they fall within the target stream's
 *     duplicate window (KV buckets: 2 minutes). That window is the limit of
 *     exactly-once delivery, stated in the README and in Validate's warnings.
 */
import type { JetStreamClient, JetStreamManager, MsgRequest } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { decodeChunk, type ChunkRecord } from "./chunk.js";
import { RecordKind } from "./records.js";
import type { StagedTxn } from "./stage.js";
import { PublishWindow } from "./window.js";

export interface Progress {
  id: string;
  chunks: number;
}

export type ApplyOutcome = "applied" | "already-applied" | "missing";

const EMPTY = new Uint8Array(0);

function publishOne(js: JetStreamClient, r: ChunkRecord, msgID: string): Promise<unknown> {
  switch (r.kind) {
    case RecordKind.put:
      return js.publish(r.subject, r.payload, { msgID });
    case RecordKind.del: {
      const h = natsHeaders();
      h.set("KV-Operation", "DEL");
      return js.publish(r.subject, EMPTY, { msgID, headers: h });
    }
    default: {
      const h = natsHeaders();
      h.set("Flow-Key", r.key);
      h.set("Flow-Action", r.kind === RecordKind.delete ? "delete" : "upsert");
      return js.publish(r.subject, r.payload, { msgID, headers: h });
    }
  }
}

export async function readProgress(progress: KV, key: string): Promise<Progress | undefined> {
  const e = await progress.get(key);
  if (!e || e.operation !== "PUT" || e.length === 0) return undefined;
  return e.json<Progress>();
}

export async function applyStaged(
  js: JetStreamClient,
  jsm: JetStreamManager,
  progress: KV,
  t: StagedTxn,
  epoch: string,
  publishWindow: number,
): Promise<ApplyOutcome> {
  const done = await readProgress(progress, t.progress.key);
  const skip = done?.id === epoch ? done.chunks : 0;
  if (skip >= t.chunks) return "already-applied";

  // The first message of the stage at or after `seq` (STREAM.MSG.GET's
  // next_by_subj, served since NATS 2.9; the client types it for direct gets only).
  const fetch = (seq: number) => jsm.streams.getMessage(t.stream, { next_by_subj: t.stage, seq } as unknown as MsgRequest);
  let next = fetch(t.first);
  const window = new PublishWindow(publishWindow);
  // Publishes flow across chunk boundaries; each chunk's marker is written
  // once its own publishes and every earlier chunk's marker are done, so the
  // marker only ever says what has been acknowledged.
  let marked: Promise<unknown> = Promise.resolve();
  for (let c = 0; c < t.chunks; c++) {
    const msg = await next;
    if (!msg) {
      if (c === 0) return "missing";
      throw new Error(`staged chunk ${c + 1} of ${t.chunks} is missing from stream ${t.stream}`);
    }
    if (c + 1 < t.chunks) {
      next = fetch(msg.seq + 1);
      next.catch(() => undefined);
    }
    if (c < skip) continue;
    const records = decodeChunk(msg.data, `staged chunk ${c + 1} of ${t.chunks}`);
    const acks: Array<Promise<unknown>> = [];
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const p = publishOne(js, r, `${epoch}:${r.binding}:${c}:${i}`);
      acks.push(p);
      const w = window.add(p);
      if (w) await w;
    }
    const chunks = c + 1;
    const prior = marked;
    marked = Promise.all(acks)
      .then(() => prior)
      .then(() => progress.put(t.progress.key, JSON.stringify({ id: epoch, chunks } satisfies Progress)));
    marked.catch(() => undefined);
  }
  await window.finish();
  await marked;
  return "applied";
}
