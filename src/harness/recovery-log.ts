/**
 * The harness's stand-in for a shard's recovery log: one JSON file per key
 * range, replaced atomically (write temp, fsync, rename) on every commit.
 *
 * Durability follows the protocol: the runtime checkpoint, the StartedCommit
 * state and the stored-key bounds of a transaction commit together; state
 * from Flushed is written as soon as it arrives; state from Acknowledged is
 * best-effort (written, but losing it is allowed).
 */
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { HarnessError } from "./errors.js";

export interface RecoveryRecord {
  /** Read position per source name, i.e. consumer.Checkpoint sources' readThrough. */
  sources: Record<string, number>;
  /** Reduced connector state. */
  connectorState: unknown;
  /** Per binding state key: the largest packed key ever stored (base64), for load skipping. */
  maxKeys: Record<string, string>;
  /** Last applied spec (leader only): version and protobuf bytes (base64). */
  lastApplied?: { version: string; spec: string };
  /** Transactions committed through this log. */
  commits: number;
  /** Set once no shard runs this log's key range any more (the shard count changed). */
  retired?: boolean;
  /** The logs this one started from when the shard count changed (see shard-topology.ts). */
  splitFrom?: string[];
}

function empty(): RecoveryRecord {
  return { sources: {}, connectorState: {}, maxKeys: {}, commits: 0 };
}

export class RecoveryLog {
  private constructor(
    readonly path: string,
    private rec: RecoveryRecord,
  ) {}

  /**
   * Opens the log at `path`. A new log inherits the stored-key bounds of
   * sibling logs (other key ranges of the same task), as a split shard
   * inherits its parent's recovery log: loads are never wrongly skipped.
   */
  static open(path: string, siblingsPrefix?: string): RecoveryLog {
    if (existsSync(path)) return new RecoveryLog(path, RecoveryLog.read(path));
    const rec = empty();
    if (siblingsPrefix) {
      const dir = dirname(siblingsPrefix);
      const base = basename(siblingsPrefix);
      const names = existsSync(dir) ? readdirSync(dir) : [];
      for (const n of names) {
        if (n !== base && !n.startsWith(base + ".")) continue;
        if (n.endsWith(".tmp")) continue;
        const other = RecoveryLog.read(join(dir, n));
        for (const [k, v] of Object.entries(other.maxKeys)) {
          const cur = rec.maxKeys[k];
          if (cur === undefined || Buffer.compare(Buffer.from(v, "base64"), Buffer.from(cur, "base64")) > 0) rec.maxKeys[k] = v;
        }
        if (other.lastApplied && !rec.lastApplied) rec.lastApplied = other.lastApplied;
      }
    }
    return new RecoveryLog(path, rec);
  }

  /** Creates (or replaces) the log at `path` holding `rec`. */
  static create(path: string, rec: RecoveryRecord): RecoveryLog {
    const log = new RecoveryLog(path, rec);
    log.write(rec);
    return log;
  }

  /** Marks the log as no longer owned by any shard. */
  retire(): void {
    this.write({ ...this.rec, retired: true });
  }

  private static read(path: string): RecoveryRecord {
    try {
      return { ...empty(), ...JSON.parse(readFileSync(path, "utf8")) };
    } catch (err) {
      throw new HarnessError(`recovery log ${path} is unreadable: ${(err as Error).message}`);
    }
  }

  get record(): Readonly<RecoveryRecord> {
    return this.rec;
  }

  /** Replaces the file with `rec` atomically. */
  write(rec: RecoveryRecord): void {
    const tmp = `${this.path}.${process.pid}.tmp`;
    const fd = openSync(tmp, "w");
    try {
      writeSync(fd, JSON.stringify(rec));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    this.rec = rec;
  }

  /** Writes connector state outside a commit (Flushed, Acknowledged, Applied). */
  writeState(state: unknown): void {
    this.write({ ...this.rec, connectorState: state });
  }

  /**
   * Raises the stored-key bounds ahead of a commit. Bounds that are too high
   * only cost extra Loads, while bounds that are too low would skip Loads of
   * keys a destination-authoritative connector already committed.
   */
  writeMaxKeys(maxKeys: Record<string, string>): void {
    this.write({ ...this.rec, maxKeys });
  }

  /** Commits one transaction. */
  commit(update: { sources: Record<string, number>; connectorState: unknown; maxKeys: Record<string, string> }): void {
    this.write({ ...this.rec, ...update, commits: this.rec.commits + 1 });
  }

  setLastApplied(version: string, spec: Uint8Array, state: unknown): void {
    this.write({ ...this.rec, lastApplied: { version, spec: Buffer.from(spec).toString("base64") }, connectorState: state });
  }
}
