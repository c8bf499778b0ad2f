/**
 * materialize-nats: materializes Flow collections into NATS JetStream: KV
 * buckets (standard updates) and subjects captured by streams (delta
 * updates, one message per document with Flow-Key and Flow-Action headers).
 *
 * NATS has no transaction that could hold Flow's checkpoint next to the
 * data, so Flow's recovery log is authoritative: each transaction is staged
 * in the connector's own stream (stage.ts), described in the connector state
 * that commits with the checkpoint, and applied once Flow acknowledges the
 * commit (apply.ts), with message ids and a progress marker making a
 * repeated apply publish nothing twice.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { createHash } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { CheckpointSchema } from "../../src/gen/consumer/protocol/protocol_pb.js";
import { jsonText, parseJson } from "../../src/sdk/config.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { drainPending, drainedDescription, pendingEntries, rangeEntry, stagedTransactor, type StagedHandlers } from "../../src/sdk/staged.js";
import type { Logger } from "../../src/log.js";
import type { MaterializeConnector } from "../../src/sdk/types.js";
import { describeJetStreamError } from "../../src/nats/connect.js";
import { applyStaged } from "./apply.js";
import { openNats, withNats, type Nats } from "./client.js";
import { checkTargets, configSchema, resolveEndpoint, resourceConfigSchema, resourcePath, targetOf, type EndpointConfig, type ResourceConfig } from "./config.js";
import { loadDocuments } from "./load.js";
import { planBinding, recordOf } from "./records.js";
import { duplicateWindow, ensureInternal, ensureSubjectStream, kvStream, openBucket, seconds } from "./setup.js";
import { InternalNames, removeStaged, StageWriter, sweepOrphans, type StagedTxn } from "./stage.js";
import { bindingConstraints } from "./validate.js";

const NAME = "materialize-nats";

/** Apply and clean-up of staged transactions, shared by sessions and Apply. */
function stagedHandlers(n: Nats, progress: KV, publishWindow: number, log: Logger): StagedHandlers<StagedTxn> {
  return {
    async apply(t, { recovered }) {
      const outcome = await applyStaged(n.js, n.jsm, progress, t, publishWindow).catch((err) => {
        throw describeJetStreamError(err, `applying staged transaction ${t.stage}`);
      });
      if (outcome === "already-applied") log.info("staged transaction was already applied", { stage: t.stage });
      // Its chunks are gone but no marker says it was applied: only a purge of
      // the staging stream by hand does this.
      if (outcome === "missing") log[recovered ? "warn" : "error"]("staged transaction not found in the staging stream; nothing applied", { stage: t.stage });
    },
    async cleanup(t) {
      await removeStaged(n.jsm, t);
    },
  };
}

/** The Nats-Msg-Id base of a transaction: its stage and runtime checkpoint, hashed. */
function transactionId(stage: string, checkpoint: Uint8Array): string {
  return createHash("sha256").update(stage).update("\0").update(checkpoint).digest("base64url").slice(0, 22);
}

const connector: MaterializeConnector<EndpointConfig, ResourceConfig> = {
  protocol: "materialize",
  name: NAME,
  configSchema,
  resourceConfigSchema,
  documentationUrl: "https://github.com/tributary-dev/tributary/tree/main/connectors/materialize-nats",

  async validate(req, ctx) {
    const ep = resolveEndpoint(req.config);
    const targets = req.bindings.map((b, i) => targetOf(b.resourceConfig, b.resourceConfig.delta_updates ?? false, i));
    checkTargets(targets);
    await withNats(ep, `flow ${NAME} validate`, async (n) => {
      await n.jsm.getAccountInfo().catch((err) => {
        throw describeJetStreamError(err, "reading the JetStream account");
      });
      for (const t of targets) {
        const w = await duplicateWindow(n.jsm, t, ep.duplicateWindowNs);
        const what = t.kind === "kv" ? `KV bucket ${t.bucket}` : `subject ${t.subject}`;
        if (w.ns <= 0) {
          ctx.log.warn(`${what}: stream ${w.stream} has no duplicate window, so a transaction whose apply was interrupted by a crash may publish some messages twice`, { stream: w.stream });
        } else {
          ctx.log.warn(
            `${what}: exactly-once relies on stream ${w.stream}'s duplicate window of ${seconds(w.ns)}: if the connector crashes while applying a transaction and restarts later than that, the messages of the chunk being applied may be published again`,
            { stream: w.stream, duplicateWindowSeconds: w.ns / 1e9, exists: w.exists },
          );
        }
      }
    });
    return req.bindings.map((b, i) => {
      const delta = b.resourceConfig.delta_updates ?? false;
      return { constraints: bindingConstraints(b.collection, b.resourceConfig.format ?? "json", delta), resourcePath: resourcePath(targets[i]!), deltaUpdates: delta };
    });
  },

  async apply(req, ctx) {
    const ep = resolveEndpoint(req.config);
    const targets = req.bindings.map((b, i) => targetOf(b.resourceConfig, b.deltaUpdates, i));
    checkTargets(targets);
    return withNats(ep, `flow ${NAME} apply`, async (n) => {
      const progress = await ensureInternal(n.js, n.jsm, ep.internalPrefix);
      // Committed transactions still waiting to be applied go first; only
      // the next Apply (with that cleared) may purge anything.
      const drained = await drainPending<StagedTxn>(req.state, stagedHandlers(n, progress, ep.publishWindow, ctx.log), ctx.log);
      if (drained) return { actionDescription: drainedDescription(drained), state: drained };

      const actions: string[] = [];
      for (const [i, b] of req.bindings.entries()) {
        const t = targets[i]!;
        if (t.kind === "subject") {
          const made = await ensureSubjectStream(n.jsm, t, ep.duplicateWindowNs);
          if (made) actions.push(made);
          continue;
        }
        const { created } = await openBucket(n.js, n.jsm, t.bucket, true);
        if (created) {
          actions.push(`created KV bucket ${t.bucket}`);
          continue;
        }
        const last = req.lastMaterialization?.bindings.find((l) => !l.deltaUpdates && l.resourcePath[0] === t.bucket);
        if (!last) continue;
        const prior = parseJson<Partial<ResourceConfig>>(jsonText(last.resourceConfigJson), "last resource config", {});
        const reasons: string[] = [];
        if (b.backfill > last.backfill) reasons.push("the binding is backfilled");
        if ((prior.format ?? "json") !== (b.resourceConfig.format ?? "json")) reasons.push("its value format changed");
        if (!reasons.length) continue;
        const purged = await n.jsm.streams.purge(kvStream(t.bucket)).catch((err) => {
          throw describeJetStreamError(err, `purging KV bucket ${t.bucket}`);
        });
        actions.push(`purged ${purged.purged} entries of KV bucket ${t.bucket} because ${reasons.join(" and ")}`);
      }
      return { actionDescription: actions.join("\n") };
    });
  },

  async open(req, ctx) {
    const ep = resolveEndpoint(req.config);
    const plans = req.bindings.map((b, i) => planBinding(b, i));
    checkTargets(plans.map((p) => p.target));
    const entry = rangeEntry(req.range);
    const n = await openNats(ep, `flow ${NAME} ${entry}`);
    try {
      const progress = await ensureInternal(n.js, n.jsm, ep.internalPrefix);
      const buckets: Array<KV | undefined> = [];
      for (const p of plans) buckets.push(p.target.kind === "kv" ? (await openBucket(n.js, n.jsm, p.target.bucket, true)).kv : undefined);

      const names = new InternalNames(ep.internalPrefix, req.spec.name, entry);
      const recovered = pendingEntries<StagedTxn>(req.state).get(entry);
      const swept = await sweepOrphans(n.jsm, names, recovered?.stage);
      ctx.log.info("opened", { range: entry, recoveredStage: recovered?.stage ?? null, orphanStagesRemoved: swept });

      const transactor = stagedTransactor<StagedTxn>({
        state: req.state,
        entry,
        log: ctx.log,
        ...stagedHandlers(n, progress, ep.publishWindow, ctx.log),
        load: (it, loaded) =>
          loadDocuments(buckets, plans, it, loaded, ep.publishWindow).catch((err) => {
            throw err instanceof ConnectorError ? err : describeJetStreamError(err, "loading documents");
          }),
        destroy: () => n.close(),
        async stage(it) {
          let w: StageWriter | undefined;
          for await (const s of it) {
            w ??= new StageWriter(n.js, names.stream, names.newStage(), ep.chunkBytes, n.maxPayload);
            const p = w.add(recordOf(plans[s.binding]!, s));
            if (p) await p;
          }
          if (!w) return undefined;
          const done = await w.finish().catch((err) => {
            throw err instanceof ConnectorError ? err : describeJetStreamError(err, "staging the transaction");
          });
          return {
            stream: w.stream,
            stage: w.stage,
            ...done,
            id: "",
            progress: { bucket: names.progressBucket, key: names.progressKey },
          };
        },
        async beforeCommit(req, p) {
          if (p) p.id = transactionId(p.stage, toBinary(CheckpointSchema, req.runtimeCheckpoint ?? create(CheckpointSchema, {})));
        },
      });
      return { transactor };
    } catch (err) {
      await n.close();
      throw err;
    }
  },
};

export default connector;
