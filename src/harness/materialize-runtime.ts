/**
 * The runtime side of a materialization, played as Flow's runtime plays it
 * (protocol.md (b) Materialize), for each shard of a key range:
 *
 *   Open(state from the recovery log) → Opened(runtimeCheckpoint?)
 *   loop: Acknowledge → Load* (pipelined before Acknowledged) → Flush →
 *         Loaded*, Flushed → Store* → StartCommit(checkpoint) →
 *         StartedCommit → commit the recovery log → next Acknowledge
 *
 * Every response is checked against the protocol's ordering rules; a
 * violation fails the run with a ProtocolViolation naming the rule. Crash
 * points SIGKILL the connector and recover the shard; a zombie session
 * checks that the connector fences off a superseded session.
 */
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { Readable } from "node:stream";
import { toBinary, fromBinary } from "@bufbuild/protobuf";
import { MaterializationSpecSchema, type RangeSpec } from "../gen/flow/flow_pb.js";
import type { ProtocolForm } from "./protocol-form.js";
import { createLogger, type Logger } from "../log.js";
import { loadCatalog, withGrpcAddress, type Catalog } from "./catalog.js";
import { applyMaterialization, buildMaterialization, type BuiltMaterialization } from "./build-materialization.js";
import { planBinding } from "./binding-plan.js";
import { flowSchemaRefs } from "./collection-spec.js";
import { HarnessError } from "./errors.js";
import type { CrashPoint } from "./faults.js";
import { FileFixture, FixtureSource, type FixtureInput } from "./fixture.js";
import { applyStateUpdate } from "../sdk/state.js";
import { RecoveryLog } from "./recovery-log.js";
import { ShardRunner } from "./shard-runner.js";
import { commitPlan, planRecoveryLogs } from "./shard-topology.js";
import { coversAllKeys, fullRange, rangeName, splitRanges } from "./task-common.js";
import { compileValidator } from "./validator.js";
import { stringifyJson } from "./lossless-json.js";

/** Apply rounds before a connector whose Applied keeps carrying state is declared stuck. */
const MAX_APPLY_ROUNDS = 10;
import type { WireCodec } from "./wire.js";

export interface MaterializePreviewOptions {
  catalog: string | Catalog;
  name?: string;
  /**
   * Fixture path, "-" for stdin, a stream of fixture lines, or transactions
   * given in code (each a list of [collection, document]). Default: stdin.
   */
  fixture?: string | Readable | [string, unknown][][];
  /** Source name recorded in runtime checkpoints (default "fixture/<file name>"). */
  sourceName?: string;
  /** Recovery log path (per shard: PATH for the full range, else PATH.<begin>-<end>). Default: a fresh temp file. */
  recoveryLog?: string;
  /** Crash points to inject (each fires once per shard). */
  crashAt?: CrashPoint | CrashPoint[];
  /** Open a second session on the same range after this many transactions (true = 1) and expect the first to be fenced off. */
  zombie?: boolean | { afterTxn: number };
  /**
   * Estimated bytes of combined documents a shard holds for one transaction
   * before it spills a sorted run to a temporary file (default 64 MiB).
   */
  combinerBudgetBytes?: number;
  /** Number of shards splitting the key range (default 1). */
  shards?: number;
  codec?: WireCodec;
  /** Drive the connector through the gRPC server at this address instead of spawning it; crash points cancel the stream. */
  grpcAddress?: string;
  timeoutMs?: number;
  validate?: boolean;
  log?: Logger;
  logLevel?: string;
  /** The protocol form to speak (default newest: linked collections, projection constraints). */
  protocolForm?: ProtocolForm;
  /** Called after each committed transaction of each shard. */
  onCommit?: (info: { shard: string; txn: number; checkpoint: Record<string, number>; stores: number }) => void;
}

export interface ShardResult {
  range: RangeSpec;
  name: string;
  recoveryLog: string;
  sessions: number;
  /** Input transactions this shard committed in this run, replays after a crash counted once. */
  transactions: number;
  crashes: string[];
  /** Read position per source the shard reached (its log's, or the connector's checkpoint when that is further). */
  checkpoint: Record<string, number>;
  connectorState: unknown;
  /** Where the last session resumed from: "recovery-log", "connector", or "zero" (from the beginning). */
  resumedFrom: string[];
  /** The zombie check: fenced by the connector itself, or by the runtime's recovery log. */
  zombie?: { fenced: boolean; by?: "connector" | "recovery-log"; error: string };
}

export interface MaterializePreviewStats {
  /** Input transactions committed in this run (by any shard; each counted once). */
  transactions: number;
  documents: number;
  loads: number;
  loadsSkipped: number;
  loaded: number;
  stores: number;
  deletes: number;
  sessions: number;
  crashes: number;
  /** Sorted runs the transactions' combiners spilled to disk past `combinerBudgetBytes`. */
  spills: number;
  elapsedMs: number;
}

export interface MaterializePreviewResult {
  applyDescription: string;
  shards: ShardResult[];
  stats: MaterializePreviewStats;
  spec: BuiltMaterialization;
}

const dec = new TextDecoder();

export async function runMaterializePreview(opts: MaterializePreviewOptions): Promise<MaterializePreviewResult> {
  const started = Date.now();
  const log = opts.log ?? createLogger();
  const catalog = withGrpcAddress(typeof opts.catalog === "string" ? loadCatalog(opts.catalog) : opts.catalog, opts.grpcAddress);
  // The recovery logs, one per key range; the leader's (range begins at 0)
  // holds the last applied spec, which Validate and Apply are given.
  const rlBase = opts.recoveryLog ?? join(mkdtempSync(join(tmpdir(), "tributary-preview-")), "recovery.json");
  const shards = opts.shards ?? 1;
  const ranges = shards === 1 ? [fullRange()] : splitRanges(shards);
  const rlPathOf = (r: RangeSpec) => (coversAllKeys(r) ? rlBase : `${rlBase}.${rangeName(r)}`);
  // A changed shard count splits (or safely merges) the logs, or is refused here, before anything runs.
  const topology = planRecoveryLogs(rlBase, ranges, rlPathOf);
  const leaderPath = rlPathOf(ranges[0]!);
  const leaderRecord = topology.initial.get(leaderPath) ?? RecoveryLog.open(leaderPath).record;
  const lastApplied = leaderRecord.lastApplied;
  const last = {
    spec: lastApplied ? fromBinary(MaterializationSpecSchema, Buffer.from(lastApplied.spec, "base64")) : undefined,
    version: lastApplied?.version ?? "",
  };

  const built = await buildMaterialization(catalog, opts.name, { log, codec: opts.codec, logLevel: opts.logLevel, last, protocolForm: opts.protocolForm });
  const plans = built.spec.bindings.map((b, i) => planBinding(i, b, built.collections[i]!.readShape));
  const validators = built.collections.map((c) => {
    if (opts.validate === false) return undefined;
    if (!c.spec.readSchemaJson.length) return compileValidator(c.writeSchema, `collection ${c.spec.name}`);
    return compileValidator(JSON.parse(dec.decode(c.spec.readSchemaJson)), `collection ${c.spec.name} (read schema)`, flowSchemaRefs(c.writeSchema));
  });

  // Input and its name in checkpoints. A file is read by each shard on its
  // own; a stream is spooled to a temporary file once, read by every shard.
  let sourceName = opts.sourceName;
  let docBase = started;
  let inputFor: () => FixtureInput;
  let spool: FixtureSource | undefined;
  if (typeof opts.fixture === "string" && opts.fixture !== "-") {
    const path = opts.fixture;
    const name = (sourceName ??= `fixture/${basename(path)}`);
    try {
      docBase = Math.floor(statSync(path).mtimeMs);
    } catch (err) {
      throw new HarnessError(`fixture ${path}: ${(err as Error).message}`);
    }
    inputFor = () => new FileFixture(name, path);
  } else if (Array.isArray(opts.fixture)) {
    const text = opts.fixture.map((txn) => txn.map((d) => stringifyJson(d) + "\n").join("") + '{"commit":true}\n').join("");
    const name = (sourceName ??= "fixture/inline");
    inputFor = () => (spool ??= new FixtureSource(name, Readable.from([Buffer.from(text)]))).reader();
    docBase = Date.UTC(2024, 0, 1); // the same documents get the same UUIDs on every run
  } else {
    const stream: Readable = opts.fixture && typeof opts.fixture !== "string" ? opts.fixture : process.stdin;
    sourceName ??= stream === process.stdin ? "fixture/stdin" : "fixture/stream";
    const name = sourceName;
    // Spooled only once the sessions start, so a failed Apply leaves nothing behind.
    inputFor = () => (spool ??= new FixtureSource(name, stream)).reader();
  }

  // Apply runs on the leader. Like Flow, the harness keeps the state an
  // Applied returns and calls Apply again until none is returned: that is
  // how a connector finishes pending work before it changes anything.
  let leaderState: unknown = leaderRecord.connectorState ?? {};
  const descriptions: string[] = [];
  for (let round = 1; ; round++) {
    const applied = await applyMaterialization(built, last, leaderState, { log, logLevel: opts.logLevel });
    if (applied.actionDescription) descriptions.push(applied.actionDescription);
    if (!applied.state) break;
    leaderState = applyStateUpdate(leaderState, applied.state);
    if (round === MAX_APPLY_ROUNDS) {
      throw new HarnessError(`materialize.Response.Applied carried a state update ${round} times in a row; Apply must settle`);
    }
  }
  const applied = { actionDescription: descriptions.join("\n") };
  commitPlan(topology);
  RecoveryLog.open(leaderPath).setLastApplied(built.version, toBinary(MaterializationSpecSchema, built.spec), leaderState);

  const stats: MaterializePreviewStats = { transactions: 0, documents: 0, loads: 0, loadsSkipped: 0, loaded: 0, stores: 0, deletes: 0, sessions: 0, crashes: 0, spills: 0, elapsedMs: 0 };
  // The timeout counts from the first session, not from building the task.
  const deadline = opts.timeoutMs !== undefined ? Date.now() + opts.timeoutMs : undefined;
  const inputs = ranges.map(() => inputFor());
  const runners = ranges.map((r, i) => new ShardRunner(built, plans, r, rlPathOf(r), rlBase, inputs[i]!, docBase, validators, stats, opts, log, deadline));
  let results: ShardResult[];
  try {
    // A failing shard stops the others: no connector outlives the preview.
    // The first failure is the one reported (the others only follow from it).
    let first: { err: unknown } | undefined;
    results = await Promise.all(
      runners.map((r) =>
        r.run().catch(async (err) => {
          first ??= { err };
          await Promise.all(runners.map((x) => x.abort()));
          throw first.err;
        }),
      ),
    );
  } finally {
    await Promise.all(inputs.map((i) => i.close?.()));
    await spool?.close();
  }
  // Input transactions committed, each counted once however many shards committed it.
  stats.transactions = new Set(runners.flatMap((r) => [...r.committed])).size;
  stats.elapsedMs = Date.now() - started;
  return { applyDescription: applied.actionDescription, shards: results, stats, spec: built };
}
