/**
 * Staging a transaction (exactly-once delivery).
 *
 * During Store, apply records are framed into chunks (chunk.ts) published to
 * the connector's staging stream under a subject of their own,
 * `<prefix>.staging.<materialization>.<range>.<nonce>`; no target is touched.
 * The description that StartedCommit puts in the connector state names the
 * subject, the first chunk's sequence and the counts (StagedTxn); apply.ts
 * applies it after Acknowledge and then purges the subject. The nonce keeps
 * apart two attempts at the same epoch (a crash before the commit): only
 * the committed one is ever applied, the other is an orphan swept later.
 */
import { randomBytes } from "node:crypto";
import type { JetStreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { ConnectorError } from "../../src/sdk/errors.js";
import { ChunkBuilder } from "./chunk.js";
import { nameToken } from "./keys.js";
import type { ApplyRecord } from "./records.js";
import { AckWindow, type RequestPipe } from "./pipe.js";

/** What StartedCommit's state records about a staged transaction. */
export interface StagedTxn {
  /** The staging stream, and the subject holding this transaction's chunks. */
  stream: string;
  stage: string;
  /** Sequence of the first chunk in the staging stream. */
  first: number;
  chunks: number;
  records: number;
  /** Where apply progress is recorded: the KV bucket and key. */
  progress: { bucket: string; key: string };
}

/** The connector's own stream, bucket and subjects for one materialization and key range. */
export class InternalNames {
  readonly stream: string;
  readonly progressBucket: string;
  readonly progressKey: string;
  private readonly base: string;

  constructor(prefix: string, materialization: string, range: string) {
    this.stream = stagingStream(prefix);
    this.progressBucket = progressBucket(prefix);
    const mat = nameToken(materialization);
    this.base = `${prefix}.staging.${mat}.${range}`;
    this.progressKey = `${mat}.${range}`;
  }

  /** A new stage subject. */
  newStage(): string {
    return `${this.base}.${randomBytes(8).toString("hex")}`;
  }

  /** Every stage subject of this materialization and range. */
  get stages(): string {
    return `${this.base}.*`;
  }
}

export function stagingStream(prefix: string): string {
  return `${prefix}_staging`;
}
export function stagingSubjects(prefix: string): string {
  return `${prefix}.staging.>`;
}
export function progressBucket(prefix: string): string {
  return `${prefix}_progress`;
}

/** Protocol overhead allowed for beside a message's payload. */
const HEADROOM = 4096;

/** Staged chunks awaiting their acks at once. */
const STAGE_WINDOW = 16;

/**
 * At most this many bytes of a transaction's chunks are also kept in memory,
 * so that the apply that normally follows in the same session need not read
 * them back from the stream; a larger transaction keeps none.
 */
export const KEEP_STAGED_BYTES = 32 << 20;

const expectStream = (stream: string) => {
  const h = natsHeaders();
  h.set("Nats-Expected-Stream", stream);
  return h;
};

/** Frames records into chunks and publishes them to a stage subject, acks pipelined. */
export class StageWriter {
  private readonly chunk = new ChunkBuilder();
  private readonly window: AckWindow;
  private first = 0;
  private records = 0;
  private chunks = 0;
  private readonly limit: number;
  private kept: Buffer[] | undefined = [];
  private keptBytes = 0;

  constructor(
    pipe: RequestPipe,
    readonly stream: string,
    readonly stage: string,
    chunkBytes: number,
    private readonly maxPayload: number,
  ) {
    this.limit = Math.min(chunkBytes, maxPayload - HEADROOM);
    this.window = new AckWindow(pipe, STAGE_WINDOW);
  }

  add(r: ApplyRecord): void | Promise<void> {
    const size = ChunkBuilder.sizeOf(r);
    if (size > this.maxPayload - HEADROOM) {
      throw new ConnectorError(
        `a document of binding ${r.binding} is ${size} bytes with its subject and key; the NATS server accepts messages of at most ${this.maxPayload} bytes (its max_payload)`,
      );
    }
    let pushed: void | Promise<void> = undefined;
    if (this.chunk.records > 0 && this.chunk.bytes + size > this.limit) pushed = this.push();
    this.chunk.add(r);
    this.records++;
    return pushed;
  }

  private push(): void | Promise<void> {
    const body = this.chunk.take();
    const c = this.chunks++;
    if (this.kept) {
      this.keptBytes += body.length;
      if (this.keptBytes <= KEEP_STAGED_BYTES) this.kept.push(body);
      else this.kept = undefined;
    }
    // Every chunk names the stream it must land in, so that a stream
    // reconfigured to capture staging subjects elsewhere fails loudly.
    return this.window.publish(this.stage, body, expectStream(this.stream), c === 0 ? (seq) => (this.first = seq) : undefined);
  }

  /** Publishes the last chunk and waits for every ack; the counts and first sequence. */
  async finish(): Promise<{ first: number; chunks: number; records: number }> {
    if (this.chunk.records) await this.push();
    await this.window.finish();
    return { first: this.first, chunks: this.chunks, records: this.records };
  }

  /** The chunks, in order, when all were kept in memory (call after finish). */
  keptChunks(): Buffer[] | undefined {
    return this.kept && this.kept.length === this.chunks ? this.kept : undefined;
  }
}

/** Removes a stage's chunks. */
export async function removeStaged(jsm: JetStreamManager, t: Pick<StagedTxn, "stream" | "stage">): Promise<void> {
  await jsm.streams.purge(t.stream, { filter: t.stage });
}

/**
 * Purges stages of this materialization and range that no state refers to:
 * left by sessions that failed before their commit, or by zombies. Returns how many.
 */
export async function sweepOrphans(jsm: JetStreamManager, names: InternalNames, keep: string | undefined): Promise<number> {
  const info = await jsm.streams.info(names.stream, { subjects_filter: names.stages });
  const stages = Object.keys(info.state.subjects ?? {}).filter((s) => s !== keep);
  for (const stage of stages) await removeStaged(jsm, { stream: names.stream, stage });
  return stages.length;
}
