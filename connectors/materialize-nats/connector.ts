/**
 * materialize-nats: materializes Flow collections into NATS JetStream: KV
 * buckets (standard updates) and subjects captured by streams (delta
 * updates, one message per document with Flow-Key and Flow-Action headers).
 *
 * Built on the epoch sink layer (src/sdk/sink.ts) with delivery
 * exactly-once-idempotent: NATS has no transaction that could hold Flow's
 * checkpoint next to the data, so Flow's recovery log is authoritative. Each
 * transaction is staged in the connector's own stream, described in the
 * connector state that commits with the checkpoint, and applied once Flow
 * acknowledges the commit, with message ids and a progress marker making a
 * repeated apply publish nothing twice (writer.ts, stage.ts, apply.ts).
 */
import { jsonText, parseJson } from "../../src/sdk/config.js";
import { epochSink } from "../../src/sdk/sink-connector.js";
import type { SinkConnector } from "../../src/sdk/sink.js";
import type { MaterializeConnector } from "../../src/sdk/types.js";
import { describeJetStreamError } from "../../src/nats/connect.js";
import { withNats } from "./client.js";
import { checkTargets, configSchema, resolveEndpoint, resourceConfigSchema, resourcePath, targetOf, type EndpointConfig, type ResourceConfig } from "./config.js";
import { duplicateWindow, ensureInternal, ensureSubjectStream, kvStream, openBucket, seconds } from "./setup.js";
import { bindingConstraints } from "./validate.js";
import { openWriter } from "./writer.js";

const NAME = "materialize-nats";

const sink: SinkConnector<EndpointConfig, ResourceConfig> = {
  name: NAME,
  configSchema,
  resourceConfigSchema,
  documentationUrl: "https://github.com/tributary-dev/tributary/tree/main/connectors/materialize-nats",
  capabilities: () => ({ delivery: "exactly-once-idempotent", operations: ["upsert", "delta", "deletes"] }),
  resourcePath: (r) => resourcePath(r),
  deltaUpdates: (r) => r.delta_updates ?? false,
  constraints: (b) => bindingConstraints(b.collection, b.resourceConfig.format ?? "json", b.deltaUpdates),

  // The layer has applied committed epochs before this runs.
  async apply(req) {
    const ep = resolveEndpoint(req.config);
    const targets = req.bindings.map((b, i) => targetOf(b.resourceConfig, b.deltaUpdates, `binding ${i}`));
    checkTargets(targets);
    return withNats(ep, `flow ${NAME} apply`, async (n) => {
      await ensureInternal(n.js, n.jsm, ep.internalPrefix);
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

  open: (req, ctx) =>
    openWriter({ ep: resolveEndpoint(req.config), bindings: req.bindings, materialization: req.materialization, rangeName: req.rangeName, log: ctx.log }),
};

const layered = epochSink(sink);

/**
 * Validate also reaches the server: JetStream must answer, and each
 * binding's duplicate window (which bounds exactly-once delivery) is stated
 * as a warning.
 */
const connector: MaterializeConnector<EndpointConfig, ResourceConfig> = {
  ...layered,
  async validate(req, ctx) {
    const ep = resolveEndpoint(req.config);
    const targets = req.bindings.map((b, i) => targetOf(b.resourceConfig, b.resourceConfig.delta_updates ?? false, `binding ${i}`));
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
    return layered.validate(req, ctx);
  },
};

export default connector;
