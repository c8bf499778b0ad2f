/**
 * Pieces shared by capture and materialization specs: versions, shard and
 * recovery-log templates, key ranges, and the collections a task uses.
 */
import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { RangeSpecSchema, type RangeSpec } from "../gen/flow/flow_pb.js";
import { ShardSpecSchema, type ShardSpec } from "../gen/consumer/protocol/protocol_pb.js";
import { JournalSpecSchema, type JournalSpec } from "../gen/broker/protocol/protocol_pb.js";
import { buildCollection, type BuiltCollection } from "./collection-spec.js";
import type { Catalog } from "./catalog.js";
import { HarnessError } from "./errors.js";
import { unsupportedStrategies } from "./reduce.js";

/** A version string for a built spec: stable for the same spec, different when it changes. */
export function specVersion(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex").slice(0, 16);
}

export function fullRange(): RangeSpec {
  return create(RangeSpecSchema, { keyBegin: 0, keyEnd: 0xffffffff, rClockBegin: 0, rClockEnd: 0xffffffff });
}

/** True when `r` spans the whole key space (a single shard owns every key). */
export function coversAllKeys(r: Pick<RangeSpec, "keyBegin" | "keyEnd">): boolean {
  return r.keyBegin === 0 && r.keyEnd === 0xffffffff;
}

/** Splits the key space into `n` contiguous, inclusive ranges of (nearly) equal width. */
export function splitRanges(n: number): RangeSpec[] {
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new HarnessError(`shards must be an integer from 1 to 256, got ${n}`);
  const out: RangeSpec[] = [];
  const span = 0x100000000;
  for (let i = 0; i < n; i++) {
    const begin = Math.floor((span * i) / n);
    const end = Math.floor((span * (i + 1)) / n) - 1;
    out.push(create(RangeSpecSchema, { keyBegin: begin, keyEnd: end, rClockBegin: 0, rClockEnd: 0xffffffff }));
  }
  return out;
}

export function rangeName(r: RangeSpec): string {
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  return `${hex(r.keyBegin)}-${hex(r.keyEnd)}`;
}

export function shardTemplate(kind: "capture" | "materialize", task: string): ShardSpec {
  return create(ShardSpecSchema, { id: `${kind}/${task}/0000000000000000`, recoveryLogPrefix: "recovery", hintPrefix: "/estuary/flow/hints", hintBackups: 2 });
}

export function recoveryLogTemplate(kind: "capture" | "materialize", task: string): JournalSpec {
  return create(JournalSpecSchema, { name: `recovery/${kind}/${task}/0000000000000000`, replication: 1 });
}

/** Builds (once) every collection a task names, rejecting reduce strategies the harness cannot apply. */
export function collectionsFor(catalog: Catalog, names: string[], at: string): Map<string, BuiltCollection> {
  const out = new Map<string, BuiltCollection>();
  for (const name of names) {
    if (out.has(name)) continue;
    const def = catalog.collections.get(name);
    if (!def) {
      const known = [...catalog.collections.keys()].join(", ") || "none";
      throw new HarnessError(`${at}: collection ${JSON.stringify(name)} is not in the catalog (collections: ${known})`);
    }
    const built = buildCollection(name, def);
    const bad = unsupportedStrategies(built.readShape);
    if (bad.length) throw new HarnessError(`collection ${JSON.stringify(name)}: reduce strategies the harness cannot apply: ${bad.join("; ")}`);
    out.set(name, built);
  }
  return out;
}

/**
 * The task of `kind` named `name` in a catalog; with no name, the only task
 * of the catalog (when it has no task of the other kind). `others` are the
 * tasks of the other kind, named in the error when a name is needed.
 */
export function findTask<T extends { name: string; shards: { disable: boolean } }>(
  kind: "capture" | "materialization",
  tasks: Map<string, T>,
  others: Map<string, unknown>,
  catalogPath: string,
  name: string | undefined,
): T {
  const names = () => [...tasks.keys()].join(", ") || "none";
  if (name === undefined) {
    if (tasks.size === 1 && others.size === 0) return enabled(kind, [...tasks.values()][0]!);
    const otherKind = kind === "capture" ? "materialization" : "capture";
    const list = (k: string, m: Map<string, unknown>) => `${k}s: ${[...m.keys()].join(", ") || "none"}`;
    const both = kind === "capture" ? [list(kind, tasks), list(otherKind, others)] : [list(otherKind, others), list(kind, tasks)];
    throw new HarnessError(`name the task with --name; ${catalogPath} has ${both.join("; ")}`);
  }
  const def = tasks.get(name);
  if (!def) throw new HarnessError(`${kind} ${JSON.stringify(name)} is not in ${catalogPath} (${kind}s: ${names()})`);
  return enabled(kind, def);
}

/** Flow runs no shard of a task with `shards: {disable: true}`; neither does the preview. */
function enabled<T extends { name: string; shards: { disable: boolean } }>(kind: string, def: T): T {
  if (def.shards.disable) throw new HarnessError(`${kind} ${JSON.stringify(def.name)} is disabled (shards.disable: true): Flow would not run it`);
  return def;
}
