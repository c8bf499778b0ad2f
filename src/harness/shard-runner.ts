/**
 * One shard of a materialization preview: its connector sessions, its
 * transactions, its recovery log, and the faults injected into it. The
 * protocol's runtime side lives here; materialize-runtime.ts sets shards up.
 */
import { create } from "@bufbuild/protobuf";
import { RequestSchema, type Request, type Response } from "../gen/materialize/materialize_pb.js";
import { CheckpointSchema } from "../gen/consumer/protocol/protocol_pb.js";
import type { RangeSpec } from "../gen/flow/flow_pb.js";
import { isZeroCheckpoint } from "../codec/checkpoint.js";
import type { Logger } from "../log.js";
import type { BuiltMaterialization } from "./build-materialization.js";
import { keyOf, valuesOf, type BindingPlan } from "./binding-plan.js";
import { Combiner } from "./combiner.js";
import { DEFAULT_COMBINER_BUDGET, SpillingCombiner } from "./spill-combiner.js";
import { openConnector, TIMED_OUT, type ConnectorSession } from "./connector-session.js";
import { ConnectorFailed, HarnessError, ProtocolViolation } from "./errors.js";
import { InjectedCrash, type CrashPoint, type CrashPointName } from "./faults.js";
import { INPUT_TIMED_OUT, type FixtureDoc, type FixtureInput, type TxnBounds } from "./fixture.js";
import { keyHash } from "./key-hash.js";
import { applyStateUpdate } from "../sdk/state.js";
import { EMPTY, isTombstone, loadRequest, storeRequest, utf8, withUuid } from "./materialize-messages.js";
import type { MaterializePreviewOptions, MaterializePreviewStats, ShardResult } from "./materialize-runtime.js";
import { RecoveryLog } from "./recovery-log.js";
import { coversAllKeys, rangeName } from "./task-common.js";
import { packTuple } from "./tuple.js";
import { variantName, variantOf } from "./unary.js";
import type { DocValidator } from "./validator.js";
import { parseJson, stringifyJson } from "./lossless-json.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Loads and Stores are sent in batches of this many, so none is held for a whole transaction. */
const SEND_BATCH = 1024;

/** A connector session of one shard. */
interface Session {
  proc: ConnectorSession<Request, Response>;
  label: string;
  /** Acknowledge sent and Acknowledged not yet received. */
  ackOutstanding: boolean;
  disableLoadOptimization: boolean;
  /** Read offset the session resumes from. */
  resumeAt: number;
  resumedFrom: string;
}

export class ShardRunner {
  private readonly result: ShardResult;
  private readonly crashesLeft: CrashPoint[];
  private startedTxns = 0;
  private zombieDone = false;
  private state: unknown = {};
  /** End offsets of the input transactions this shard committed (by its log, or by the connector's own checkpoint). */
  readonly committed = new Set<number>();
  /** The transaction sent to the connector and not yet committed to the recovery log. */
  private inflightEnd: number | undefined;
  /** The read position the shard has reached: where its last session resumed, or its last commit. */
  private position = 0;
  /** Sessions whose connector may still run; all are killed when the shard fails or is aborted. */
  private readonly live = new Set<Session>();
  private aborted = false;

  constructor(
    private readonly built: BuiltMaterialization,
    private readonly plans: BindingPlan[],
    private readonly range: RangeSpec,
    private readonly rlPath: string,
    private readonly rlPrefix: string,
    private readonly source: FixtureInput,
    private readonly docBase: number,
    private readonly validators: (DocValidator | undefined)[],
    private readonly stats: MaterializePreviewStats,
    private readonly opts: MaterializePreviewOptions,
    private readonly log: Logger,
    private readonly deadline: number | undefined,
  ) {
    this.crashesLeft = opts.crashAt === undefined ? [] : Array.isArray(opts.crashAt) ? [...opts.crashAt] : [opts.crashAt];
    this.result = {
      range,
      name: rangeName(range),
      recoveryLog: rlPath,
      sessions: 0,
      transactions: 0,
      crashes: [],
      checkpoint: {},
      connectorState: {},
      resumedFrom: [],
    };
  }

  private get zombieAfter(): number | undefined {
    const z = this.opts.zombie;
    if (!z) return undefined;
    return z === true ? 1 : z.afterTxn;
  }

  private maybeCrash(point: CrashPointName, txn: number) {
    const i = this.crashesLeft.findIndex((c) => c.point === point && c.txn === txn);
    if (i < 0) return;
    const [c] = this.crashesLeft.splice(i, 1);
    throw new InjectedCrash(c!);
  }

  /**
   * How long to wait for a response. Past the preview's deadline, a
   * transaction in flight still gets a minute to finish: the timeout ends a
   * preview between transactions, it does not fail a slow one.
   */
  private remaining(): number | undefined {
    return this.deadline === undefined ? undefined : Math.max(0, this.deadline + 60_000 - Date.now());
  }

  /** Ends the shard from outside (another shard failed): every connector it runs is killed. */
  async abort(): Promise<void> {
    this.aborted = true;
    await this.killAll();
  }

  private async killAll(): Promise<void> {
    const all = [...this.live];
    this.live.clear();
    await Promise.all(all.map((x) => x.proc.kill()));
  }

  async run(): Promise<ShardResult> {
    for (;;) {
      const rl = RecoveryLog.open(this.rlPath, this.rlPrefix);
      try {
        const session = await this.openSession(rl);
        await this.loop(session, rl);
        this.live.delete(session);
        const rec = RecoveryLog.open(this.rlPath).record;
        // What really committed: a destination-authoritative connector may
        // have committed past the recovery log (its checkpoint says so).
        this.result.transactions = this.committed.size;
        this.result.checkpoint = { ...rec.sources, [this.source.name]: Math.max(this.position, rec.sources[this.source.name] ?? 0) };
        this.result.connectorState = rec.connectorState;
        return this.result;
      } catch (err) {
        // No connector of a failed (or crashed) session outlives it.
        await this.killAll();
        if (this.aborted) throw err;
        if (err instanceof InjectedCrash) {
          this.result.crashes.push(`${err.at.point}:${err.at.txn}`);
          this.stats.crashes++;
          this.log.info("injected crash: connector killed, recovering", { shard: this.result.name, at: `${err.at.point}:${err.at.txn}` });
          continue;
        }
        throw err;
      }
    }
  }

  private async openSession(rl: RecoveryLog): Promise<Session> {
    this.result.sessions++;
    this.stats.sessions++;
    const label = `materialize ${this.built.def.name} shard ${this.result.name} session ${this.result.sessions}`;
    const proc = openConnector<Request, Response>(this.built.def.endpoint, this.built.wire, "materialize", { log: this.log, label, logLevel: this.opts.logLevel });
    const session: Session = { proc, label, ackOutstanding: false, disableLoadOptimization: false, resumeAt: 0, resumedFrom: "" };
    this.live.add(session);
    if (this.aborted) await proc.kill();
    try {
      this.state = rl.record.connectorState ?? {};
      await proc.send(
        create(RequestSchema, {
          open: { materialization: this.built.wireSpec, version: this.built.version, range: this.range, stateJson: enc.encode(JSON.stringify(this.state)) },
        }),
      );
      const r = await this.read(session, "Opened");
      if (!r.opened) this.violation(r, "opened-first", "the first response to Open must be Opened");
      session.disableLoadOptimization = r.opened.disableLoadOptimization;
      const cp = r.opened.runtimeCheckpoint;
      if (cp === undefined) {
        session.resumeAt = rl.record.sources[this.source.name] ?? 0;
        session.resumedFrom = "recovery-log";
      } else if (isZeroCheckpoint(cp)) {
        session.resumeAt = 0;
        session.resumedFrom = "zero";
      } else {
        const src = cp.sources[this.source.name];
        session.resumeAt = src ? Number(src.readThrough) : 0;
        session.resumedFrom = "connector";
      }
      this.result.resumedFrom.push(session.resumedFrom);
      // A transaction in flight when the last session died is committed if
      // the connector's checkpoint already reaches past it.
      if (this.inflightEnd !== undefined && session.resumedFrom === "connector" && session.resumeAt >= this.inflightEnd) this.committed.add(this.inflightEnd);
      this.inflightEnd = undefined;
      this.position = session.resumeAt;
      this.log.debug("opened", { shard: this.result.name, resumeAt: session.resumeAt, from: session.resumedFrom });
      this.maybeCrash("after-open", this.result.sessions);
      return session;
    } catch (err) {
      await proc.kill();
      this.live.delete(session);
      throw err;
    }
  }

  private violation(r: Response, rule: string, detail: string): never {
    throw new ProtocolViolation(`materialize.Response.${variantName(r)}`, rule, detail);
  }

  /** The next response; EOF or a timeout while one is expected is an error. */
  private async read(s: Session, expecting: string): Promise<Response> {
    const r = await s.proc.nextWithin(this.remaining());
    if (r === TIMED_OUT) throw new HarnessError(`${s.label}: timed out waiting for ${expecting}`);
    if (r === undefined) throw new ProtocolViolation("materialize.Response", "unexpected-eof", `${s.label}: the connector closed its output while the runtime waited for ${expecting}`);
    return r;
  }

  private parseState(what: string, st: { updatedJson: Uint8Array; mergePatch: boolean }): { updated: unknown; mergePatch: boolean } {
    try {
      return { updated: JSON.parse(dec.decode(st.updatedJson)), mergePatch: st.mergePatch };
    } catch {
      throw new ProtocolViolation(`materialize.Response.${what}`, "state-not-json", `the state's \`updated\` is not valid JSON`);
    }
  }

  /** Reads responses until Acknowledged; only Acknowledged may come first. */
  private async awaitAcknowledged(s: Session, rl: RecoveryLog) {
    if (!s.ackOutstanding) return;
    const r = await this.read(s, "Acknowledged");
    if (!r.acknowledged) {
      const v = variantOf(r);
      const rule = v === "loaded" ? "loaded-before-acknowledged" : v === "flushed" ? "flushed-before-flush" : "response-order";
      this.violation(r, rule, `expected Acknowledged (the runtime sent Acknowledge), got ${variantName(r)}`);
    }
    s.ackOutstanding = false;
    if (r.acknowledged.state) {
      // Best-effort state: applied and written, but not part of any commit.
      const u = this.parseState("Acknowledged", r.acknowledged.state);
      this.state = applyStateUpdate(this.state, u);
      rl.writeState(this.state);
    }
  }

  private async sendAcknowledge(s: Session) {
    await s.proc.send(create(RequestSchema, { acknowledge: {} }));
    s.ackOutstanding = true;
  }

  private async loop(s: Session, rl: RecoveryLog) {
    let offset = s.resumeAt;
    await this.sendAcknowledge(s);
    for (;;) {
      if (this.deadline !== undefined && Date.now() >= this.deadline) break;
      const end = await this.runTxn(s, rl, offset);
      if (end === undefined) break;
      offset = end;
      await this.sendAcknowledge(s);
      const za = this.zombieAfter;
      if (za !== undefined && !this.zombieDone && this.startedTxns === za) {
        this.zombieDone = true;
        s = await this.supersede(s, rl);
        offset = s.resumeAt;
      }
    }
    // Clean shutdown: the last Acknowledged, then EOF on the request stream.
    await this.awaitAcknowledged(s, rl);
    s.proc.closeInput();
    const r = await s.proc.nextWithin(this.remaining());
    if (r === TIMED_OUT) throw new HarnessError(`${s.label}: the connector did not exit after its input closed`);
    if (r !== undefined) this.violation(r, "response-after-eof", "the connector sent a response after the runtime closed the request stream");
  }

  /**
   * Opens a second session on this range while `zombie` still runs, drives
   * one more transaction through the zombie, and requires it to be fenced
   * off. A connector that keeps its checkpoint in the destination must fence
   * it itself (its commit fails, naming fencing). One that relies on the
   * runtime's recovery log (no checkpoint in Opened) is fenced by the runtime,
   * as Flow's recovery log refuses a superseded writer: its StartedCommit is
   * never committed or acknowledged. Continues with the new session.
   */
  private async supersede(zombie: Session, rl: RecoveryLog): Promise<Session> {
    const fresh = await this.openSession(RecoveryLog.open(this.rlPath, this.rlPrefix));
    const from = Math.max(zombie.resumeAt, rl.record.sources[this.source.name] ?? 0);
    let outcome: { fenced: boolean; by?: "connector" | "recovery-log"; error: string };
    try {
      const end = await this.runTxn(zombie, rl, from, /* zombieRun */ true);
      if (end === undefined) {
        outcome = { fenced: false, error: "no transaction left to drive through the zombie session" };
      } else if (zombie.resumedFrom !== "recovery-log") {
        throw new HarnessError(
          `zombie session committed a transaction after a newer session opened range ${this.result.name}: the connector does not fence off superseded sessions`,
        );
      } else {
        outcome = {
          fenced: true,
          by: "recovery-log",
          error: "fenced off by the runtime: the connector keeps its checkpoint in the recovery log, which refuses the superseded session's commit, so its StartedCommit is never acknowledged",
        };
      }
    } catch (err) {
      if (err instanceof HarnessError) throw err;
      const msg = err instanceof Error ? err.message : String(err);
      if (!(err instanceof ConnectorFailed) || !/fenc/i.test(msg)) throw err;
      outcome = { fenced: true, by: "connector", error: msg };
    }
    await zombie.proc.kill();
    this.live.delete(zombie);
    this.result.zombie = outcome;
    this.log.info("zombie session fenced off", { shard: this.result.name, by: outcome.by, error: outcome.error });
    await this.sendAcknowledge(fresh);
    return fresh;
  }

  /**
   * Routes, validates and keys one document of the input for this shard:
   * `take` is called once per binding of this shard that reads it.
   */
  private route(d: FixtureDoc, take: (plan: BindingPlan, key: unknown[], doc: unknown, packed: Uint8Array) => void) {
    // A single shard owns every key: no need to hash them.
    const fullRange = coversAllKeys(this.range);
    // Documents of collections no binding reads are not this task's input.
    for (const plan of this.plans) {
      if (plan.collection !== d.collection) continue;
      let doc = d.doc;
      const bad = this.validators[plan.index]?.(doc);
      if (bad) throw new HarnessError(`${d.where}: document of ${d.collection} does not match its schema: ${bad}`);
      doc = withUuid(doc, this.docBase, d.offset);
      const key = keyOf(plan, doc);
      if (typeof key === "string") throw new HarnessError(`${d.where}: document of ${d.collection} has no value for key field ${JSON.stringify(key)}`);
      const packed = packTuple(key);
      if (!fullRange) {
        const h = keyHash(packed);
        if (h < this.range.keyBegin || h > this.range.keyEnd) continue;
      }
      take(plan, key, doc, packed);
    }
  }

  /**
   * One transaction, read from `from`: its end offset, or undefined when
   * the input has none (or the deadline passed while waiting for one).
   * Documents stream from the input into a spilling combiner, and each key
   * to load is sent a Load as soon as it is first seen; Loaded documents go
   * into the combiner too, and the Stores stream out of its drain, so a
   * transaction of any size takes bounded memory (beyond one small id per
   * loaded key). `zombieRun` drives a superseded session and must not touch
   * the recovery log.
   */
  private async runTxn(s: Session, rl: RecoveryLog, from: number, zombieRun = false): Promise<number | undefined> {
    const combiner = new SpillingCombiner(
      this.plans.map((p) => p.shape),
      this.opts.combinerBudgetBytes ?? DEFAULT_COMBINER_BUDGET,
    );
    try {
      return await this.streamTxn(s, rl, from, combiner, zombieRun);
    } finally {
      combiner.close();
    }
  }

  private async streamTxn(s: Session, rl: RecoveryLog, from: number, combiner: SpillingCombiner, zombieRun: boolean): Promise<number | undefined> {
    // Stored-key bounds as the transaction began (decided Loads), and as raised by its Stores.
    const bounds = new Map<string, Buffer>(Object.entries(rl.record.maxKeys).map(([k, v]) => [k, Buffer.from(v, "base64")]));
    const maxKeys = new Map(bounds);
    /** Whether a key is skipped by the load optimization (never stored before, by the bound). */
    const unseen = (plan: BindingPlan, packed: Uint8Array) => {
      const max = bounds.get(plan.stateKey);
      return !s.disableLoadOptimization && (max === undefined || Buffer.compare(packed, max) > 0);
    };

    // Documents in, Loads out: each key to load once, as it is first seen.
    // requested: Load sent (false), then Loaded (true).
    const requested = new Map<string, boolean>();
    let loads: Request[] = [];
    const sendLoads = async () => {
      const batch = loads;
      loads = [];
      await s.proc.sendMany(batch);
      this.stats.loads += batch.length;
    };
    const wait = this.deadline;
    let visited = 0;
    const read = await this.source.scanTxn(
      from,
      (d) => {
        visited++;
        this.route(d, (plan, key, doc, packed) => {
          combiner.add(plan.index, key, doc, packed, d.size);
          this.stats.documents++;
          if (plan.deltaUpdates || unseen(plan, packed)) return;
          const id = Combiner.id(plan.index, packed);
          if (requested.has(id)) return;
          requested.set(id, false);
          loads.push(loadRequest(plan.index, utf8(stringifyJson(key)), packed));
        });
        if (loads.length >= SEND_BATCH) return sendLoads();
      },
      // The deadline ends the preview between transactions; one that has begun gets the in-flight allowance.
      wait === undefined || zombieRun ? {} : { waitUntil: (begun) => (begun ? wait + 60_000 : wait) },
    );
    if (read === INPUT_TIMED_OUT) {
      if (visited === 0) return undefined;
      throw new HarnessError(`${s.label}: timed out reading a transaction of ${this.source.name} (from byte ${from}) past the preview's timeout`);
    }
    if (read === undefined) return undefined;
    const txn: TxnBounds = read;
    await sendLoads();
    const txnNo = zombieRun ? -1 : ++this.startedTxns;
    if (!zombieRun) this.inflightEnd = txn.end;

    // Flush only once the previous commit is acknowledged.
    await this.awaitAcknowledged(s, rl);
    await s.proc.send(create(RequestSchema, { flush: {} }));
    for (;;) {
      const r = await this.read(s, "Loaded or Flushed");
      if (r.loaded) {
        const { binding, docJson } = r.loaded;
        const plan = this.plans[binding];
        if (!plan) this.violation(r, "loaded-unknown-binding", `binding ${binding} does not exist (the materialization has ${this.plans.length} bindings)`);
        if (plan.deltaUpdates) this.violation(r, "loaded-binding-without-loads", `binding ${binding} uses delta updates and is never sent Load`);
        let doc: unknown;
        try {
          doc = parseJson(dec.decode(docJson));
        } catch {
          this.violation(r, "loaded-doc-not-json", `binding ${binding}: the loaded document is not valid JSON`);
        }
        const key = keyOf(plan, doc);
        if (typeof key === "string") this.violation(r, "loaded-key-not-requested", `binding ${binding}: the loaded document has no value for key field ${JSON.stringify(key)}`);
        const packed = packTuple(key);
        const id = Combiner.id(binding, packed);
        const was = requested.get(id);
        if (was === undefined) this.violation(r, "loaded-key-not-requested", `binding ${binding}: key ${JSON.stringify(key)} was not requested by a Load in this transaction`);
        if (was) this.violation(r, "loaded-key-twice", `binding ${binding}: key ${JSON.stringify(key)} was loaded twice in this transaction`);
        requested.set(id, true);
        combiner.addLoaded(binding, key, doc, packed, docJson.length);
        this.stats.loaded++;
      } else if (r.flushed) {
        if (r.flushed.state && !zombieRun) {
          // Flushed state is durable before the next Store.
          const u = this.parseState("Flushed", r.flushed.state);
          this.state = applyStateUpdate(this.state, u);
          rl.writeState(this.state);
        }
        break;
      } else {
        const v = variantOf(r);
        this.violation(r, v === "acknowledged" ? "acknowledged-twice" : "response-order", `expected Loaded or Flushed after Flush, got ${variantName(r)}`);
      }
    }
    requested.clear();
    this.stats.spills += combiner.spills;

    // Stores, with exists = loaded and delete for tombstones of existing
    // keys, streamed in batches as the combiner drains. A transaction that
    // is to crash mid-store holds its Stores, to send exactly half of them.
    const crashMidStore = !zombieRun && this.crashesLeft.some((c) => c.point === "mid-store" && c.txn === txnNo);
    let stores: Request[] = [];
    let storeCount = 0;
    for (const e of combiner.drain()) {
      const plan = this.plans[e.binding]!;
      if (!plan.deltaUpdates && unseen(plan, e.packed)) this.stats.loadsSkipped++;
      const isDelete = isTombstone(e.doc);
      const exists = e.loaded === true;
      if (isDelete && !exists && !plan.deltaUpdates) continue; // nothing to delete
      const values = valuesOf(plan, e.doc);
      stores.push(
        storeRequest(
          e.binding,
          utf8(stringifyJson(e.key)),
          e.packed,
          utf8(stringifyJson(values)),
          packTuple(values),
          plan.withDocument ? utf8(stringifyJson(e.doc)) : EMPTY,
          plan.deltaUpdates ? false : exists,
          plan.deltaUpdates ? false : isDelete,
        ),
      );
      storeCount++;
      if (isDelete && !plan.deltaUpdates) this.stats.deletes++;
      if (!plan.deltaUpdates) {
        const max = maxKeys.get(plan.stateKey);
        if (max === undefined || Buffer.compare(e.packed, max) > 0) maxKeys.set(plan.stateKey, Buffer.from(e.packed));
      }
      if (!crashMidStore && stores.length >= SEND_BATCH) {
        await s.proc.sendMany(stores);
        stores = [];
      }
    }
    const maxKeysOut: Record<string, string> = {};
    for (const [k, v] of maxKeys) maxKeysOut[k] = v.toString("base64");
    if (crashMidStore) {
      await s.proc.sendMany(stores.slice(0, Math.ceil(stores.length / 2)));
      await new Promise((r) => setTimeout(r, 20)); // let the connector take them in
      this.maybeCrash("mid-store", txnNo);
    }
    await s.proc.sendMany(stores);
    this.stats.stores += storeCount;
    if (!zombieRun) rl.writeMaxKeys(maxKeysOut);

    // StartCommit with the read position this transaction reaches.
    const sources = { ...rl.record.sources, [this.source.name]: txn.end };
    const checkpoint = create(CheckpointSchema, {});
    for (const [name, off] of Object.entries(sources)) checkpoint.sources[name] = { $typeName: "consumer.Checkpoint.Source", readThrough: BigInt(off), producers: [] };
    await s.proc.send(create(RequestSchema, { startCommit: { runtimeCheckpoint: checkpoint } }));
    if (!zombieRun) this.maybeCrash("after-start-commit", txnNo);
    const r = await this.read(s, "StartedCommit");
    if (!r.startedCommit) {
      const v = variantOf(r);
      this.violation(r, v === "loaded" ? "loaded-after-flushed" : v === "flushed" ? "flushed-twice" : "response-order", `expected StartedCommit after StartCommit, got ${variantName(r)}`);
    }
    if (zombieRun) return txn.end;
    this.maybeCrash("after-started-commit", txnNo);
    let state = this.state;
    if (r.startedCommit.state) {
      const u = this.parseState("StartedCommit", r.startedCommit.state);
      state = applyStateUpdate(state, u);
    }
    // The recovery-log commit: checkpoint, StartedCommit state and key bounds together.
    rl.commit({ sources, connectorState: state, maxKeys: maxKeysOut });
    this.committed.add(txn.end);
    this.inflightEnd = undefined;
    this.position = txn.end;
    this.state = state;
    this.opts.onCommit?.({ shard: this.result.name, txn: txnNo, checkpoint: sources, stores: storeCount });
    this.maybeCrash("after-log-commit", txnNo);
    return txn.end;
  }
}
