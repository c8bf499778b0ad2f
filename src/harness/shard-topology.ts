/**
 * What each shard's recovery log starts from when the shard count changes
 * between previews on the same recovery log (`--shards 3`, later 1).
 *
 * Flow only ever splits a shard (flowctl `shards split`, which halves a
 * parent's key range): the new child replays its parent's recovery log, so
 * it starts with the parent's read checkpoint and connector state. Flow has
 * no merge. The harness follows that and adds one safe merge:
 *
 * - a range with a live log of its own keeps it;
 * - a range inside one live log's range (a split) starts with a copy of it;
 * - a range spanning several live logs (a merge, or a re-split) starts with
 *   their common record only when they agree on every read position and on
 *   the connector state — every key of the range then has the same progress.
 *   Otherwise it is refused: resuming from any one of them would apply some
 *   documents twice (or skip them), whatever the connector.
 *
 * Logs of ranges no shard runs any more are marked retired, so a later run
 * with the old shard count does not resume from their stale positions.
 */
import { existsSync, readdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { RangeSpec } from "../gen/flow/flow_pb.js";
import { HarnessError } from "./errors.js";
import { RecoveryLog, type RecoveryRecord } from "./recovery-log.js";
import { rangeName } from "./task-common.js";

interface LiveLog {
  path: string;
  begin: number;
  end: number;
  record: RecoveryRecord;
}

export interface TopologyPlan {
  /** Initial records of logs that do not exist (or are retired) yet, by path. */
  initial: Map<string, RecoveryRecord>;
  /** Paths of live logs no shard of this run owns. */
  retire: string[];
}

/** The live (not retired) recovery logs of `base`, with the key range each file name says. */
function liveLogs(base: string): LiveLog[] {
  const dir = dirname(base);
  const name = basename(base);
  if (!existsSync(dir)) return [];
  const out: LiveLog[] = [];
  for (const f of readdirSync(dir)) {
    let begin: number, end: number;
    if (f === name) [begin, end] = [0, 0xffffffff];
    else {
      const m = f.startsWith(name + ".") ? /^([0-9a-f]{8})-([0-9a-f]{8})$/.exec(f.slice(name.length + 1)) : null;
      if (!m) continue;
      [begin, end] = [parseInt(m[1]!, 16), parseInt(m[2]!, 16)];
    }
    const log = RecoveryLog.open(join(dir, f));
    if (log.record.retired) continue;
    out.push({ path: join(dir, f), begin, end, record: log.record });
  }
  return out;
}

/** JSON with sorted object keys, to compare records independently of key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

function maxKeysOf(logs: LiveLog[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of logs) {
    for (const [k, v] of Object.entries(l.record.maxKeys)) {
      const cur = out[k];
      if (cur === undefined || Buffer.compare(Buffer.from(v, "base64"), Buffer.from(cur, "base64")) > 0) out[k] = v;
    }
  }
  return out;
}

const hex = (b: number, e: number) => rangeName({ keyBegin: b, keyEnd: e } as RangeSpec);

/**
 * Plans the recovery logs of `ranges` (log path of each by `pathOf`) from
 * the live logs of `base`. Throws a HarnessError, before anything is
 * written, for a merge whose logs disagree.
 */
export function planRecoveryLogs(base: string, ranges: RangeSpec[], pathOf: (r: RangeSpec) => string): TopologyPlan {
  const live = liveLogs(base);
  const plan: TopologyPlan = { initial: new Map(), retire: [] };
  const wanted = new Set(ranges.map(pathOf));
  for (const r of ranges) {
    const path = pathOf(r);
    const overlapping = live.filter((l) => l.begin <= r.keyEnd && l.end >= r.keyBegin);
    const own = overlapping.find((l) => l.path === path);
    if (own) {
      const others = overlapping.filter((l) => l !== own);
      if (others.length) {
        throw new HarnessError(
          `recovery log ${path} (range ${rangeName(r)}) overlaps other live logs: ${others.map((l) => `${l.path} (${hex(l.begin, l.end)})`).join(", ")}; they describe different shard layouts, and the harness cannot tell which is current`,
        );
      }
      continue;
    }
    const start: RecoveryRecord = { sources: {}, connectorState: {}, maxKeys: maxKeysOf(live), commits: 0 };
    if (overlapping.length === 1 && overlapping[0]!.begin <= r.keyBegin && overlapping[0]!.end >= r.keyEnd) {
      // A split: the child starts from its parent's log, as in Flow.
      const parent = overlapping[0]!.record;
      start.sources = { ...parent.sources };
      start.connectorState = parent.connectorState;
      start.maxKeys = { ...parent.maxKeys };
      start.splitFrom = [overlapping[0]!.path];
    } else if (overlapping.length > 0) {
      const covered = coversRange(overlapping, r);
      const first = overlapping[0]!.record;
      const agree = overlapping.every((l) => canonical(l.record.sources) === canonical(first.sources) && canonical(l.record.connectorState) === canonical(first.connectorState));
      if (!covered || !agree) {
        const detail = overlapping.map((l) => `${hex(l.begin, l.end)} at ${canonical(l.record.sources)}`).join(", ");
        throw new HarnessError(
          `cannot run range ${rangeName(r)} on recovery log ${base}: it would merge shards ${detail}, ` +
            `whose ${!covered ? "ranges do not cover it" : "read positions or connector states differ"}. Flow never merges shards (it only splits them), ` +
            `and resuming from any one of them would apply documents twice or skip them. Finish the run with the previous --shards count first, or start over with a new recovery log and destination.`,
        );
      }
      start.sources = { ...first.sources };
      start.connectorState = first.connectorState;
      start.maxKeys = maxKeysOf(overlapping);
      start.splitFrom = overlapping.map((l) => l.path);
    }
    // The leader keeps the last applied spec of whichever log held it.
    const applied = overlapping.find((l) => l.record.lastApplied)?.record.lastApplied ?? live.find((l) => l.record.lastApplied)?.record.lastApplied;
    if (r.keyBegin === 0 && applied) start.lastApplied = applied;
    plan.initial.set(path, start);
  }
  for (const l of live) if (!wanted.has(l.path)) plan.retire.push(l.path);
  return plan;
}

function coversRange(logs: LiveLog[], r: RangeSpec): boolean {
  let next = r.keyBegin;
  for (const l of [...logs].sort((a, b) => a.begin - b.begin)) {
    if (l.begin > next) return false;
    next = Math.max(next, l.end + 1);
  }
  return next > r.keyEnd;
}

/** Writes the planned logs, then retires the logs of ranges no shard runs. */
export function commitPlan(plan: TopologyPlan): void {
  for (const [path, rec] of plan.initial) RecoveryLog.create(path, rec);
  for (const path of plan.retire) RecoveryLog.open(path).retire();
}
