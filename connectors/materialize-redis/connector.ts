/**
 * materialize-redis: materializes Flow collections into Redis keys (standard
 * updates) or Redis Streams (delta updates).
 *
 * Redis has no transaction that could hold Flow's checkpoint next to the
 * data, so Flow's recovery log is authoritative: each transaction is staged
 * in Redis, described in the connector state that commits with the
 * checkpoint, and applied by server-side scripts once Flow acknowledges the
 * commit (see stage.ts). An at-least-once mode writes directly instead.
 */
import type { Redis } from "ioredis";
import type { MaterializationSpec_Binding } from "../../src/gen/flow/flow_pb.js";
import { atLeastOnceTransactor } from "../../src/sdk/at-least-once.js";
import { jsonText, parseJson } from "../../src/sdk/config.js";
import { drainPending, drainedDescription, pendingEntries, rangeEntry, stagedTransactor, type StagedHandlers } from "../../src/sdk/staged.js";
import type { Logger } from "../../src/log.js";
import type { MaterializeConnector, StoreIterator, Transactor } from "../../src/sdk/types.js";
import { connect, redisError } from "./client.js";
import { configSchema, resolveEndpoint, resourceConfigSchema, type Endpoint, type EndpointConfig, type ResourceConfig } from "./config.js";
import { DirectWriter } from "./direct.js";
import { globEscape } from "./keys.js";
import { loadDocuments } from "./load.js";
import { PendingKeys } from "./pending-keys.js";
import { planBinding, recordOf, type BindingPlan } from "./records.js";
import { withScripts, type ScriptedRedis } from "./scripts.js";
import { applyRetained, applyStaged, removeStaged, StageNames, StageWriter, sweepOrphans, type RecordWriter, type StagedTxn } from "./stage.js";
import { bindingConstraints, checkResources } from "./validate.js";
import { checkServer } from "./server-check.js";

async function withClient<T>(ep: Endpoint, fn: (c: ScriptedRedis) => Promise<T>): Promise<T> {
  const client = withScripts(await connect(ep, "flow materialize-redis"));
  try {
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

/**
 * Apply and clean-up of staged transactions, shared by sessions and Apply.
 * `retained` gives the chunks a session kept of the transaction it staged
 * (StageWriter.retained), applied from there when they are that transaction's.
 */
function stagedHandlers(redis: ScriptedRedis, ep: Endpoint, log: Logger, retained?: () => { stage: string; chunks: Buffer[] } | undefined): StagedHandlers<StagedTxn> {
  return {
    async apply(t, { recovered }) {
      const kept = recovered ? undefined : retained?.();
      const apply = kept?.stage === t.stage ? applyRetained(redis, t, kept.chunks) : applyStaged(redis, t);
      const found = await apply.catch((err) => {
        throw redisError(err, ep, `applying staged transaction ${t.stage}`);
      });
      // A missing stage was applied and removed by an earlier session (or by
      // Apply's drain) that could not clear the state afterwards.
      if (!found) log[recovered ? "info" : "warn"]("staged transaction was already applied", { stage: t.stage });
    },
    async cleanup(t) {
      await removeStaged(redis, t);
    },
  };
}

async function writeAll(plans: BindingPlan[], it: StoreIterator, writer: () => Promise<RecordWriter>): Promise<RecordWriter | undefined> {
  let w: RecordWriter | undefined;
  for await (const s of it) {
    w ??= await writer();
    const p = w.add(recordOf(plans[s.binding]!, s));
    if (p) await p;
  }
  return w;
}

/** Deletes a binding's keys (`<prefix>:...`) and its stream (`<prefix>`). */
async function truncate(redis: Redis, prefix: string): Promise<number> {
  let removed = await redis.unlink(prefix);
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${globEscape(prefix)}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length) removed += await redis.unlink(...keys);
  } while (cursor !== "0");
  return removed;
}

function lastResource(last: MaterializationSpec_Binding): Partial<ResourceConfig> {
  return parseJson<Partial<ResourceConfig>>(jsonText(last.resourceConfigJson), "last resource config", {});
}

const connector: MaterializeConnector<EndpointConfig, ResourceConfig> = {
  protocol: "materialize",
  name: "materialize-redis",
  configSchema,
  resourceConfigSchema,
  documentationUrl: "https://github.com/tributary-dev/tributary/tree/main/connectors/materialize-redis",

  /** The server accepts this config's credentials (connecting PINGs it). */
  async healthCheck(config) {
    await withClient(resolveEndpoint(config), async () => undefined);
  },

  async validate(req, ctx) {
    const ep = resolveEndpoint(req.config);
    checkResources(req.bindings.map((b) => ({ resourceConfig: b.resourceConfig, delta: b.resourceConfig.delta_updates ?? false })));
    await withClient(ep, async (redis) => {
      await checkServer(redis, ep, ctx.log);
      // Prove we may write, and (for exactly-once) run scripts.
      const probe = `${ep.internalPrefix}:probe:${req.name}`;
      await redis.set(probe, "1", "PX", 10_000).catch((err) => {
        throw redisError(err, ep, "writing a key");
      });
      if (ep.delivery === "exactly_once") {
        await redis.eval("return 1", 0).catch((err) => {
          throw redisError(err, ep, "running Lua scripts (exactly_once delivery needs them)");
        });
      }
    });
    return req.bindings.map((b) => {
      const delta = b.resourceConfig.delta_updates ?? false;
      return {
        constraints: bindingConstraints(b.collection, b.resourceConfig, delta),
        resourcePath: [b.resourceConfig.prefix],
        deltaUpdates: delta,
      };
    });
  },

  async apply(req, ctx) {
    const ep = resolveEndpoint(req.config);
    checkResources(req.bindings.map((b) => ({ resourceConfig: b.resourceConfig, delta: b.deltaUpdates })));
    return withClient(ep, async (redis) => {
      // Committed transactions still waiting to be applied go first; only
      // the next Apply (with that cleared) may delete anything.
      const drained = await drainPending<StagedTxn>(req.state, stagedHandlers(redis, ep, ctx.log), ctx.log);
      if (drained) return { actionDescription: drainedDescription(drained), state: drained };

      const actions: string[] = [];
      for (const b of req.bindings) {
        const last = req.lastMaterialization?.bindings.find((l) => l.resourcePath[0] === b.resourceConfig.prefix);
        if (!last) continue;
        const prior = lastResource(last);
        const reasons: string[] = [];
        if (b.backfill > last.backfill) reasons.push("the binding is backfilled");
        if ((prior.format ?? "json") !== (b.resourceConfig.format ?? "json")) reasons.push("its value format changed");
        if (last.deltaUpdates !== b.deltaUpdates) reasons.push("it switched between standard and delta updates");
        if (!reasons.length) continue;
        const n = await truncate(redis, b.resourceConfig.prefix).catch((err) => {
          throw redisError(err, ep, `deleting the keys of prefix ${JSON.stringify(b.resourceConfig.prefix)}`);
        });
        actions.push(`deleted ${n} keys under prefix ${JSON.stringify(b.resourceConfig.prefix)} because ${reasons.join(" and ")}`);
      }
      return { actionDescription: actions.join("\n") };
    });
  },

  async open(req, ctx) {
    const ep = resolveEndpoint(req.config);
    checkResources(req.bindings.map((b) => ({ resourceConfig: b.resourceConfig, delta: b.deltaUpdates })));
    const plans = req.bindings.map((b) => planBinding(b, req.range));
    const entry = rangeEntry(req.range);
    const writes = withScripts(await connect(ep, "flow materialize-redis store"));
    let reads: Redis | undefined;
    try {
      reads = await connect(ep, "flow materialize-redis load");
      const readConn = reads;
      const loadWith =
        (pending?: PendingKeys): Transactor["load"] =>
        (it, loaded) =>
          loadDocuments(readConn, plans, it, loaded, pending).catch((err) => {
            throw redisError(err, ep, "loading documents");
          });
      const destroy = async () => {
        writes.disconnect();
        readConn.disconnect();
      };

      if (ep.delivery === "at_least_once") {
        ctx.log.info("opened with at-least-once delivery: a retried transaction is written again", { range: entry });
        const transactor = atLeastOnceTransactor({
          load: loadWith(),
          destroy,
          async write(it) {
            const w = await writeAll(plans, it, async () => new DirectWriter(writes, ep.chunkRecords));
            await w?.finish().catch((err) => {
              throw redisError(err, ep, "writing documents");
            });
          },
        });
        return { transactor };
      }

      const names = new StageNames(ep.internalPrefix, req.spec.name, entry);
      const recovered = pendingEntries<StagedTxn>(req.state).get(entry);
      const swept = await sweepOrphans(writes, names, recovered?.stage);
      ctx.log.info("opened", { range: entry, recoveredStage: recovered?.stage ?? null, orphanStagesRemoved: swept });

      // Keys the staged transaction writes, so the next one's Loads of other keys need not wait for its apply.
      const pendingKeys = new PendingKeys(recovered !== undefined);
      // The chunks of the transaction this session staged last, while they may still be applied from memory.
      let kept: { stage: string; chunks: Buffer[] } | undefined;
      const handlers = stagedHandlers(writes, ep, ctx.log, () => kept);
      const transactor = stagedTransactor<StagedTxn>({
        state: req.state,
        entry,
        log: ctx.log,
        ...handlers,
        async apply(t, info) {
          try {
            await handlers.apply(t, info);
          } finally {
            kept = undefined;
          }
          pendingKeys.applied();
        },
        load: loadWith(pendingKeys),
        destroy,
        async stage(it) {
          let stamp = "";
          const w = await writeAll(plans, it, async () => {
            stamp = await writes.flowNextStamp(names.counter);
            return new StageWriter(writes, names.stage(stamp), ep.chunkRecords, pendingKeys);
          });
          if (!w) return undefined;
          const records = await w.finish().catch((err) => {
            throw redisError(err, ep, "staging the transaction");
          });
          const sw = w as StageWriter;
          const chunks = sw.retained;
          kept = chunks ? { stage: sw.stage, chunks } : undefined;
          return { stage: sw.stage, stamp, chunks: sw.chunks, records };
        },
      });
      return { transactor };
    } catch (err) {
      writes.disconnect();
      reads?.disconnect();
      throw err;
    }
  },
};

export default connector;
