/**
 * At-least-once delivery: records are written to their targets as the
 * Stores arrive, pipelined, and all confirmed before StartedCommit. Stream
 * entries get server-assigned ids, so a re-run transaction appends again.
 */
import type { ChainableCommander, Redis } from "ioredis";
import type { WriteRecord } from "./records.js";
import type { RecordWriter } from "./stage.js";
import { InFlight } from "./pipeline.js";

const BUDGET = 16 << 20;
/** Records per pipeline: one socket write each, instead of one per command. */
const BATCH = 512;

export class DirectWriter implements RecordWriter {
  private count = 0;
  private batch: ChainableCommander | undefined;
  private batched = 0;
  private bytes = 0;
  private readonly inflight = new InFlight(BUDGET);

  constructor(private readonly redis: Redis) {}

  add(r: WriteRecord): void | Promise<void> {
    this.count++;
    const p = (this.batch ??= this.redis.pipeline());
    this.write(p, r);
    this.bytes += r.key.length + r.payload.length + 8;
    if (++this.batched >= BATCH) return this.send();
  }

  private send(): void | Promise<void> {
    const p = this.batch!;
    const bytes = this.bytes;
    this.batch = undefined;
    this.batched = 0;
    this.bytes = 0;
    // A pipeline resolves with each command's error in place: surface the first.
    const done = p.exec().then((replies) => {
      for (const [err] of replies ?? []) if (err) throw err;
    });
    return this.inflight.add(done, bytes);
  }

  private write(p: ChainableCommander, r: WriteRecord): void {
    const ttl = r.op.slice(1);
    switch (r.op[0]) {
      case "S":
        if (ttl) p.set(r.key, r.payload, "EX", Number(ttl));
        else p.set(r.key, r.payload);
        return;
      case "D":
        p.del(r.key);
        return;
      case "H": {
        // Replacing a hash is three commands; readers may briefly see it
        // empty, which at-least-once delivery accepts.
        const fields = JSON.parse(r.payload) as string[];
        p.del(r.key);
        if (fields.length) {
          p.hset(r.key, ...fields);
          if (ttl) p.expire(r.key, Number(ttl));
        }
        return;
      }
      case "X":
        p.xadd(r.key, "*", ...(JSON.parse(r.payload) as string[]));
        return;
      default:
        throw new Error(`unknown record op ${r.op}`);
    }
  }

  async finish(): Promise<number> {
    if (this.batch) await this.send();
    await this.inflight.finish();
    return this.count;
  }
}
