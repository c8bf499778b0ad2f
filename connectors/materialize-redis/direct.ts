/**
 * At-least-once delivery: records go straight to their targets as the
 * Stores arrive, chunk by chunk through the same server-side writer the
 * staged apply uses (one script call per chunk instead of one command per
 * record), and are all confirmed before StartedCommit. Stream entries get
 * server-assigned ids, so a re-run transaction appends again.
 *
 * A chunk of plain SETs only (the common json binding) goes as one MSET
 * instead: what the script would run for it anyway, without the script's
 * decoding and the copies into and out of Lua, about a quarter of the
 * server's work for such a chunk. Commands on one connection run in order,
 * so records keep their order across MSETs and script calls. The MSET is
 * encoded here in one pass (resp.ts), not argument by argument by ioredis.
 */
import type { ScriptedRedis } from "./scripts.js";
import type { WriteRecord } from "./records.js";
import type { RecordWriter } from "./stage.js";
import { ChunkBuilder } from "./chunk.js";
import { InFlight } from "./pipeline.js";
import { encodeCommand, EncodedCommand } from "./resp.js";

const BUDGET = 16 << 20;
const CHUNK_BYTES = 1 << 20;

export class DirectWriter implements RecordWriter {
  private readonly chunk = new ChunkBuilder(0);
  private count = 0;
  private readonly inflight = new InFlight(BUDGET);

  constructor(
    private readonly redis: ScriptedRedis,
    private readonly perChunk: number,
  ) {}

  add(r: WriteRecord): void | Promise<void> {
    this.chunk.add(r.op, r.key, r.payload);
    this.count++;
    if (this.chunk.records >= this.perChunk || this.chunk.bytes >= CHUNK_BYTES) return this.send();
  }

  private send(): void | Promise<void> {
    const bytes = this.chunk.bytes;
    const sets = this.chunk.takePlainSets();
    if (sets) {
      const mset = new EncodedCommand("mset", encodeCommand("MSET", sets));
      void this.redis.sendCommand(mset);
      return this.inflight.add(mset.promise, bytes);
    }
    const blob = this.chunk.take();
    return this.inflight.add(this.redis.flowWriteChunk(blob), blob.length);
  }

  async finish(): Promise<number> {
    if (this.chunk.records) await this.send();
    await this.inflight.finish();
    return this.count;
  }
}
