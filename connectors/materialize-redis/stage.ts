/**
 * Staging and applying transactions (exactly-once delivery).
 *
 * During Store, write records are gathered into chunks (chunk.ts) appended
 * to a Redis list named for the materialization, the session's key range and
 * the transaction's stamp; the target keys are not touched. After the runtime acknowledges the commit,
 * the list is applied chunk by chunk by a server-side script that also
 * records the chunk in a progress marker, so a chunk is applied at most
 * once however often the apply is repeated, and a repeated apply resumes
 * after the last chunk that landed. Once every chunk is applied, the list
 * and its marker are deleted together.
 */
import type { Redis } from "ioredis";
import type { ScriptedRedis } from "./scripts.js";
import type { WriteRecord } from "./records.js";
import { InFlight } from "./pipeline.js";
import { ChunkBuilder } from "./chunk.js";
import type { PendingKeys } from "./pending-keys.js";

/** What StartedCommit's state records about a staged transaction. */
export interface StagedTxn {
  stage: string;
  stamp: string;
  /** Chunks in the stage list, each applied by one script call. */
  chunks: number;
  records: number;
}

/** A chunk closes at this many encoded bytes, if it has not reached its record count. */
const CHUNK_BYTES = 1 << 20;
/** Bytes of unanswered RPUSH arguments allowed in flight. */
const PUSH_BUDGET = 16 << 20;
/** Chunk scripts sent ahead of their replies. */
const APPLY_AHEAD = 16;

export function markerOf(stage: string): string {
  return `${stage}:applied`;
}

export class StageNames {
  constructor(
    private readonly internalPrefix: string,
    private readonly materialization: string,
    private readonly range: string,
  ) {}

  get counter(): string {
    return `${this.internalPrefix}:stamp:${this.materialization}:${this.range}`;
  }

  stage(stamp: string): string {
    return `${this.internalPrefix}:stage:${this.materialization}:${this.range}:${stamp}`;
  }

  /** The set of this materialization and range's stages that exist. */
  get index(): string {
    return indexOf(this.stage(""));
  }
}

/** A stage's index: its name without the stamp. Derived, so Apply's drain can find it too. */
function indexOf(stage: string): string {
  return stage.slice(0, stage.lastIndexOf(":"));
}

/** Where a transaction's records go: a stage list, or the targets directly. */
export interface RecordWriter {
  add(r: WriteRecord): void | Promise<void>;
  finish(): Promise<number>;
}

/** Appends records to a stage list, one element per chunk, with bounded memory. */
export class StageWriter implements RecordWriter {
  private readonly chunk = new ChunkBuilder(0);
  private count = 0;
  chunks = 0;
  private readonly inflight = new InFlight(PUSH_BUDGET);

  constructor(
    private readonly redis: Redis,
    readonly stage: string,
    private readonly perChunk: number,
    /** Told every target key staged, for Loads that read ahead of the apply. */
    private readonly keys?: PendingKeys,
  ) {
    keys?.begin();
    // Indexed before its first chunk (commands on one connection run in
    // order), so a session that dies while staging leaves a findable orphan.
    void this.inflight.add(redis.sadd(indexOf(stage), stage), 0);
  }

  add(r: WriteRecord): void | Promise<void> {
    this.chunk.add(r.op, r.key, r.payload);
    this.keys?.add(r.key);
    this.count++;
    if (this.chunk.records >= this.perChunk || this.chunk.bytes >= CHUNK_BYTES) return this.push();
  }

  private push(): void | Promise<void> {
    const blob = this.chunk.take();
    this.chunks++;
    return this.inflight.add(this.redis.rpush(this.stage, blob), blob.length);
  }

  async finish(): Promise<number> {
    if (this.chunk.records) await this.push();
    await this.inflight.finish();
    return this.count;
  }
}

/**
 * Applies a staged transaction. Returns false when its stage no longer
 * exists, which means an earlier session applied and removed it.
 */
export async function applyStaged(redis: ScriptedRedis, t: StagedTxn): Promise<boolean> {
  const chunks = t.chunks;
  const marker = markerOf(t.stage);
  const pending: Array<Promise<number>> = [];
  let missing = false;
  // Scripts run in the order sent; each refuses to run after a failed
  // predecessor, so sending ahead is safe.
  for (let c = 0; c < chunks; c++) {
    const p = redis.flowApplyChunk(t.stage, marker, c, t.stamp);
    p.catch(() => undefined);
    pending.push(p);
    if (pending.length >= APPLY_AHEAD) missing = (await pending.shift()!) === -1 || missing;
  }
  for (const p of pending) missing = (await p) === -1 || missing;
  return !missing;
}

export async function removeStaged(redis: Redis, t: Pick<StagedTxn, "stage">): Promise<void> {
  await redis.multi().del(t.stage, markerOf(t.stage)).srem(indexOf(t.stage), t.stage).exec();
}

/**
 * Deletes stages of this materialization and range that no state refers to:
 * left by sessions that failed before their commit. Returns how many.
 */
export async function sweepOrphans(redis: Redis, names: StageNames, keep: string | undefined): Promise<number> {
  const stages = (await redis.smembers(names.index)).filter((s) => s !== keep);
  for (const stage of stages) await removeStaged(redis, { stage });
  return stages.length;
}
