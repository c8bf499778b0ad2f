/**
 * At-least-once delivery: records are written to their targets as the
 * Stores arrive, pipelined, and all confirmed before StartedCommit. Stream
 * entries get server-assigned ids, so a re-run transaction appends again.
 */
import type { Redis } from "ioredis";
import type { WriteRecord } from "./records.js";
import type { RecordWriter } from "./stage.js";
import { InFlight } from "./pipeline.js";

const BUDGET = 16 << 20;

export class DirectWriter implements RecordWriter {
  private count = 0;
  private readonly inflight = new InFlight(BUDGET);

  constructor(private readonly redis: Redis) {}

  add(r: WriteRecord): void | Promise<void> {
    this.count++;
    return this.inflight.add(this.write(r), r.key.length + r.payload.length + 8);
  }

  private write(r: WriteRecord): Promise<unknown> {
    const ttl = r.op.slice(1);
    switch (r.op[0]) {
      case "S":
        return ttl ? this.redis.set(r.key, r.payload, "EX", Number(ttl)) : this.redis.set(r.key, r.payload);
      case "D":
        return this.redis.del(r.key);
      case "H": {
        const fields = JSON.parse(r.payload) as string[];
        const m = this.redis.multi().del(r.key);
        if (fields.length) {
          m.hset(r.key, ...fields);
          if (ttl) m.expire(r.key, Number(ttl));
        }
        return m.exec();
      }
      case "X":
        return this.redis.xadd(r.key, "*", ...(JSON.parse(r.payload) as string[]));
      default:
        return Promise.reject(new Error(`unknown record op ${r.op}`));
    }
  }

  async finish(): Promise<number> {
    await this.inflight.finish();
    return this.count;
  }
}
