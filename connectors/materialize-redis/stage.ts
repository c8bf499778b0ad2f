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
 *
 * The session that staged a transaction of plain SETs only (json bindings
 * without TTL) keeps its chunks, up to RETAIN_BYTES, and applies them from
 * there (applyRetained): MSETs inside MULTI/EXEC under WATCH of the stage
 * and its marker, each followed by the marker's update, instead of the
 * script copying every value out of the stage and through Lua (the script
 * cost ~3.6 µs of server CPU per document, a client's MSET ~1.3). Any state
 * of the stage or marker but the expected one hands the apply to the
 * script, which decides as it always did.
 */
import type { Redis } from "ioredis";
import type { ScriptedRedis } from "./scripts.js";
import type { WriteRecord } from "./records.js";
import { InFlight } from "./pipeline.js";
import { ChunkBuilder, plainSetRanges } from "./chunk.js";
import { commandSizeOf, EncodedCommand, writeCommandOf } from "./resp.js";
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
/** Bytes of a transaction's chunks kept for applyRetained; a larger transaction is applied from its stage. */
const RETAIN_BYTES = 32 << 20;
/** Chunks applied by one MULTI/EXEC in applyRetained. */
const RETAINED_GROUP = 4;

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
  /** Every chunk so far, while all are plain SETs and within RETAIN_BYTES. */
  private kept: Buffer[] | undefined = [];
  private keptBytes = 0;

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
    const plain = this.chunk.plain;
    const blob = this.chunk.take();
    this.chunks++;
    if (this.kept) {
      this.keptBytes += blob.length;
      if (plain && this.keptBytes <= RETAIN_BYTES) this.kept.push(blob);
      else this.kept = undefined;
    }
    return this.inflight.add(this.redis.rpush(this.stage, blob), blob.length);
  }

  async finish(): Promise<number> {
    if (this.chunk.records) await this.push();
    await this.inflight.finish();
    return this.count;
  }

  /** The staged chunks, if all are kept (see applyRetained). */
  get retained(): Buffer[] | undefined {
    return this.kept;
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

/**
 * Applies a staged transaction from `chunks`, the elements this session
 * pushed to its stage (all in the plain-SET form), with the script's
 * effect: chunk c's MSET and the marker set to c land together (one
 * MULTI/EXEC, WATCHing the stage and the marker, so nothing changed them
 * since they were read). Only the expected course is taken here: the
 * stage holding `chunks.length` elements and the marker at the last chunk
 * this call applied (none at first). Anything else — a stage gone or
 * altered, a marker moved by another session, a group refused because a
 * watched key changed — goes to applyStaged, which resumes after whatever
 * the marker says.
 */
export async function applyRetained(redis: ScriptedRedis, t: StagedTxn, chunks: Buffer[]): Promise<boolean> {
  const marker = markerOf(t.stage);
  // The group's MSETs are encoded into one buffer, reused by the next group:
  // once EXEC has answered, Redis has read every command before it, so the
  // socket holds no part of it. (A buffer per MSET made the connector's GC
  // threads work through ~15 MB more per transaction.)
  let scratch = Buffer.alloc(0);
  const expect = (r: [Error | null, unknown] | undefined): unknown => {
    if (!r) throw new Error("missing reply");
    if (r[0]) throw r[0];
    return r[1];
  };
  for (let next = 0; next < t.chunks; ) {
    const seen = (await redis.pipeline().watch(marker, t.stage).get(marker).llen(t.stage).exec()) ?? [];
    expect(seen[0]);
    const done = expect(seen[1]) as string | null;
    const length = expect(seen[2]) as number;
    const end = Math.min(next + RETAINED_GROUP, t.chunks);
    const ranges = chunks.slice(next, end).map(plainSetRanges);
    if (chunks.length !== t.chunks || length !== t.chunks || (done === null ? -1 : Number(done)) !== next - 1 || ranges.some((a) => !a)) {
      await redis.unwatch();
      return applyStaged(redis, t);
    }
    // MULTI, the group's commands and EXEC are all written in this one synchronous
    // block, so nothing else on the connection comes between them; each MSET is
    // written as encoded (a pipelined multi() would copy the group into one buffer).
    const sizes = ranges.map((a) => commandSizeOf("MSET", a!));
    const total = sizes.reduce((x, y) => x + y, 0);
    if (scratch.length < total) scratch = Buffer.allocUnsafe(total);
    const queued: Array<Promise<unknown>> = [redis.multi({ pipeline: false })];
    let at = 0;
    ranges.forEach((a, i) => {
      const end = writeCommandOf(scratch, at, "MSET", chunks[next + i]!, a!);
      const mset = new EncodedCommand("mset", scratch.subarray(at, end));
      at = end;
      void redis.sendCommand(mset);
      queued.push(mset.promise, redis.set(marker, String(next + i)));
    });
    const exec = redis.exec();
    for (const q of queued) q.catch(() => undefined); // a refused command fails the EXEC too
    const replies = await exec;
    if (replies === null) return applyStaged(redis, t); // a watched key changed
    for (const r of replies) expect(r);
    next = end;
  }
  return true;
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
