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
import type { JetStreamManager, MsgRequest } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import { decodeChunk, type ChunkRecord } from "./chunk.js";
import { AckWindow, type RequestPipe } from "./pipe.js";
import { RecordKind } from "./records.js";
import type { StagedTxn } from "./stage.js";

export interface Progress {
  id: string;
  chunks: number;
}

export type ApplyOutcome = "applied" | "already-applied" | "missing";

const EMPTY = new Uint8Array(0);

function headersOf(r: ChunkRecord, msgID: string): MsgHdrs {
  const h = natsHeaders();
  h.set("Nats-Msg-Id", msgID);
  switch (r.kind) {
    case RecordKind.put:
      break;
    case RecordKind.del:
      h.set("KV-Operation", "DEL");
      break;
    default:
      h.set("Flow-Key", r.key);
      h.set("Flow-Action", r.kind === RecordKind.delete ? "delete" : "upsert");
  }
  return h;
}

export async function readProgress(progress: KV, key: string): Promise<Progress | undefined> {
  const e = await progress.get(key);
  if (!e || e.operation !== "PUT" || e.length === 0) return undefined;
  return e.json<Progress>();
}

/**
 * Applies `t`. `kept`, when given, is the stage's chunks as this session
 * published them (StageWriter.keptChunks), read instead of the stream.
 */
export async function applyStaged(
  pipe: RequestPipe,
  jsm: JetStreamManager,
  progress: KV,
  t: StagedTxn,
  epoch: string,
  publishWindow: number,
  kept?: Uint8Array[],
): Promise<ApplyOutcome> {
  const done = await readProgress(progress, t.progress.key);
  const skip = done?.id === epoch ? done.chunks : 0;
  if (skip >= t.chunks) return "already-applied";

  // The first message of the stage at or after `seq` (STREAM.MSG.GET's
  // next_by_subj, served since NATS 2.9; the client types it for direct gets only).
  const fetch = (seq: number) => jsm.streams.getMessage(t.stream, { next_by_subj: t.stage, seq } as unknown as MsgRequest);
  const fromMemory = kept?.length === t.chunks ? kept : undefined;
  let next = fromMemory ? undefined : fetch(t.first);
  const window = new AckWindow(pipe, publishWindow);
  // Publishes flow across chunk boundaries; chunk c's marker is written once
  // its own publishes and every earlier chunk's are acknowledged (and the
  // earlier markers written), so the marker only ever says what JetStream
  // has stored. `unacked[c]` counts chunk c's publishes awaiting their ack,
  // plus one until all of them are sent.
  const unacked: number[] = [];
  let toMark = skip;
  let marked: Promise<unknown> = Promise.resolve();
  const advance = () => {
    while (toMark < unacked.length && unacked[toMark] === 0) {
      const chunks = ++toMark;
      marked = marked.then(() => progress.put(t.progress.key, JSON.stringify({ id: epoch, chunks } satisfies Progress)));
      marked.catch(() => undefined); // awaited at the end; a failure must not go unhandled meanwhile
    }
  };
  for (let c = 0; c < t.chunks; c++) {
    let data: Uint8Array;
    if (fromMemory) data = fromMemory[c]!;
    else {
      const msg = await next!;
      if (!msg) {
        if (c === 0) return "missing";
        throw new Error(`staged chunk ${c + 1} of ${t.chunks} is missing from stream ${t.stream}`);
      }
      if (c + 1 < t.chunks) {
        next = fetch(msg.seq + 1);
        next.catch(() => undefined);
      }
      data = msg.data;
    }
    if (c < skip) {
      unacked.push(0);
      continue;
    }
    const records = decodeChunk(data, `staged chunk ${c + 1} of ${t.chunks}`);
    unacked.push(records.length + 1);
    const acked = () => {
      if (--unacked[c]! === 0) advance();
    };
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const payload = r.kind === RecordKind.del ? EMPTY : r.payload;
      const w = window.publish(r.subject, payload, headersOf(r, `${epoch}:${r.binding}:${c}:${i}`), acked);
      if (w) await w;
    }
    acked();
  }
  await window.finish();
  await marked;
  return "applied";
}
