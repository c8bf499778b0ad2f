/**
 * The on-disk state of the memory materialization: its tables and, per key
 * range, a fence generation and the runtime checkpoint, all in one JSON
 * file replaced atomically. A lock file (holding the owner's pid, stolen
 * from dead owners) serializes sessions of several shards.
 */
import { existsSync, linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";

export interface Row {
  key: unknown[];
  values: unknown[];
  doc?: unknown;
}

export interface FenceRow {
  keyBegin: number;
  keyEnd: number;
  generation: number;
  /** consumer.Checkpoint protobuf bytes, base64; undefined until a commit. */
  checkpoint?: string;
}

export interface StoreFile {
  tables: Record<string, { rows: Record<string, Row>; appended: Row[] }>;
  fences: Record<string, FenceRow>;
  /** Commits applied, for tests. */
  commits: number;
}

export function readStore(path: string): StoreFile {
  if (!existsSync(path)) return { tables: {}, fences: {}, commits: 0 };
  return JSON.parse(readFileSync(path, "utf8")) as StoreFile;
}

export function writeStore(path: string, s: StoreFile): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(s));
  renameSync(tmp, path);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Runs `fn` holding the store's lock file. */
export async function withLock<T>(path: string, fn: () => T | Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  for (let i = 0; ; i++) {
    try {
      // The pid is written before the lock appears (link is atomic), so a
      // session killed at any point never leaves an empty, unstealable lock.
      const mine = `${lock}.${process.pid}`;
      writeFileSync(mine, String(process.pid));
      try {
        linkSync(mine, lock);
      } finally {
        unlinkSync(mine);
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let owner = NaN;
      try {
        owner = Number(readFileSync(lock, "utf8"));
      } catch {
        continue;
      }
      // A killed session leaves its lock behind: take it over.
      if (Number.isInteger(owner) && owner > 0 && !alive(owner)) {
        try {
          unlinkSync(lock);
        } catch {}
        continue;
      }
      if (i > 2000) throw new Error(`store ${path} is locked by pid ${owner}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  try {
    return await fn();
  } finally {
    try {
      unlinkSync(lock);
    } catch {}
  }
}
