/**
 * One session's sink (the epoch sink layer's SinkWriter, delivery
 * exactly-once-idempotent): each epoch's Stores are staged in the
 * connector's stream (stage.ts), preCommit describes the stage, and
 * commitEpoch applies it after the runtime committed (apply.ts), then
 * purges it. Loads read the KV buckets.
 */
import type { Logger } from "../../src/log.js";
import { describeJetStreamError } from "../../src/nats/connect.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import type { Epoch, SinkWriter } from "../../src/sdk/sink.js";
import type { MaterializeBinding } from "../../src/sdk/types.js";
import { applyStaged } from "./apply.js";
import { openNats } from "./client.js";
import { checkTargets, type Endpoint, type ResourceConfig } from "./config.js";
import { loadDocuments, type LoadSource } from "./load.js";
import { RequestPipe } from "./pipe.js";
import { planBinding, recordOf } from "./records.js";
import { ensureInternal, loadSource } from "./setup.js";
import { InternalNames, removeStaged, StageWriter, sweepOrphans, type StagedTxn } from "./stage.js";

export interface WriterOptions {
  ep: Endpoint;
  bindings: MaterializeBinding<ResourceConfig>[];
  materialization: string;
  rangeName: string;
  log: Logger;
}

export async function openWriter(o: WriterOptions): Promise<SinkWriter<StagedTxn>> {
  const { ep, log } = o;
  const plans = o.bindings.map((b, i) => planBinding(b, i));
  checkTargets(plans.map((p) => p.target));
  const n = await openNats(ep, `flow materialize-nats ${o.rangeName}`);
  try {
    const progress = await ensureInternal(n.js, n.jsm, ep.internalPrefix);
    const sources: Array<LoadSource | undefined> = [];
    for (const p of plans) sources.push(p.target.kind === "kv" ? await loadSource(n.js, n.jsm, p.target.bucket) : undefined);
    const pipe = new RequestPipe(n.nc);
    const names = new InternalNames(ep.internalPrefix, o.materialization, o.rangeName);
    const counters = { stagedChunks: 0, orphanStagesRemoved: 0, epochsAlreadyApplied: 0 };
    let swept = false;
    let stage: StageWriter | undefined;
    // The chunks of the stage last committed by this session, to apply without reading them back.
    let kept: { stage: string; chunks: Buffer[] } | undefined;

    const writer: SinkWriter<StagedTxn> = {
      batchSize: 1000,
      async load(keys, loaded) {
        await loadDocuments(sources, plans, keys, loaded, ep.publishWindow, pipe).catch((err) => {
          throw err instanceof ConnectorError ? err : describeJetStreamError(err, "loading documents");
        });
      },
      async beginEpoch() {
        // By the first epoch, work recovered from the state is applied and
        // purged, so any stage left for this range is an orphan (of a session
        // that died before its commit, or of a zombie).
        if (!swept) {
          swept = true;
          counters.orphanStagesRemoved += await sweepOrphans(n.jsm, names, undefined).catch((err) => {
            throw describeJetStreamError(err, "removing orphaned stages");
          });
        }
        stage = undefined;
        kept = undefined;
      },
      async writeBatch(batch) {
        stage ??= new StageWriter(pipe, names.stream, names.newStage(), ep.chunkBytes, n.maxPayload);
        const plan = plans[batch.binding]!;
        for (const s of batch.stores) {
          const p = stage.add(recordOf(plan, s));
          if (p) await p.catch((err) => Promise.reject(describeJetStreamError(err, "staging the transaction")));
        }
      },
      async preCommit() {
        if (!stage) return undefined;
        const w = stage;
        const done = await w.finish().catch((err) => {
          throw err instanceof ConnectorError ? err : describeJetStreamError(err, "staging the transaction");
        });
        counters.stagedChunks += done.chunks;
        const chunks = w.keptChunks();
        kept = chunks ? { stage: w.stage, chunks } : undefined;
        return { stream: w.stream, stage: w.stage, ...done, progress: { bucket: names.progressBucket, key: names.progressKey } };
      },
      async commitEpoch(epoch: Epoch, commit) {
        const t = commit.pending!;
        const mine = kept?.stage === t.stage ? kept.chunks : undefined;
        kept = undefined;
        const outcome = await applyStaged(pipe, n.jsm, progress, t, epoch.id, ep.publishWindow, mine).catch((err) => {
          throw describeJetStreamError(err, `applying staged transaction ${t.stage}`);
        });
        if (outcome === "already-applied") {
          counters.epochsAlreadyApplied++;
          log.info("staged transaction was already applied", { stage: t.stage });
        }
        // Its chunks are gone but no marker says it was applied: only a purge
        // of the staging stream by hand does this.
        if (outcome === "missing") log.warn("staged transaction not found in the staging stream; nothing applied", { stage: t.stage });
        try {
          await removeStaged(n.jsm, t);
        } catch (err) {
          // Applied and about to be cleared from state: leftover chunks cost
          // space, not correctness, and the next session sweeps them.
          log.warn("could not purge an applied stage", { stage: t.stage, error: (err as Error).message });
        }
      },
      async rollbackEpoch() {
        const w = stage;
        stage = undefined;
        kept = undefined;
        if (w) await w.finish().catch(() => undefined).then(() => removeStaged(n.jsm, w));
      },
      metrics: () => ({ ...counters }),
      close: async () => {
        pipe.close();
        await n.close();
      },
    };
    return writer;
  } catch (err) {
    await n.close();
    throw err;
  }
}
