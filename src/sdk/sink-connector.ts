/**
 * `epochSink`: builds a MaterializeConnector from a SinkConnector (sink.ts).
 */
import { decodeCheckpoint } from "./checkpoint.js";
import { fullRange } from "./bindings.js";
import { ConnectorError } from "./errors.js";
import { drainPending, drainedDescription, pendingEntries, rangeEntry } from "./staged.js";
import { openingEpochId, epochId } from "./sink-epoch.js";
import { EpochRunner } from "./sink-epochs.js";
import { checkCapabilities, validateSink } from "./sink-validate.js";
import { sinkTransactor, type StagedEpoch } from "./sink-transactor.js";
import type { SinkCapabilities, SinkConnector, SinkWriter } from "./sink.js";
import { ZERO_CHECKPOINT, type MaterializeConnector, type Opened } from "./types.js";

function capabilitiesOf<C>(def: SinkConnector<C>, config: C): SinkCapabilities {
  const caps = def.capabilities(config);
  checkCapabilities(def.name, caps);
  return caps;
}

/** Builds a materialization from a sink: the layer owns the transaction protocol and checkpoint model. */
export function epochSink<C, R>(def: SinkConnector<C, R>): MaterializeConnector<C, R> {
  const connector: MaterializeConnector<C, R> = {
    protocol: "materialize",
    name: def.name,
    configSchema: def.configSchema,
    resourceConfigSchema: def.resourceConfigSchema,
    documentationUrl: def.documentationUrl,

    validate: (req) => validateSink(def, req),

    async apply(req, ctx) {
      const caps = capabilitiesOf(def, req.config);
      if (caps.delivery === "exactly-once-idempotent" && pendingEntries(req.state).size > 0) {
        // Committed epochs are applied before Apply changes anything; the
        // runtime persists the clearing update and calls Apply again.
        const range = fullRange();
        const writer = await def.open(
          { config: req.config, bindings: req.bindings, range, rangeName: rangeEntry(range), materialization: req.spec.name, version: req.version },
          ctx,
        );
        try {
          const drained = await drainPending<StagedEpoch>(
            req.state,
            {
              apply: (p, info) => writer.commitEpoch!({ id: p.epoch, range: "" }, { pending: p.work, recovered: info.recovered }),
            },
            ctx.log,
          );
          if (drained) return { actionDescription: drainedDescription(drained), state: drained };
        } finally {
          await writer.close?.();
        }
      }
      return def.apply ? def.apply(req, ctx) : { actionDescription: "" };
    },

    async open(req, ctx): Promise<Opened> {
      const caps = capabilitiesOf(def, req.config);
      const rangeName = rangeEntry(req.range);
      const writer: SinkWriter = await def.open(
        { config: req.config, bindings: req.bindings, range: req.range, rangeName, materialization: req.spec.name, version: req.version },
        ctx,
      );
      try {
        checkWriter(def.name, caps, writer, req.bindings.some((b) => !b.deltaUpdates));
      } catch (err) {
        await writer.close?.();
        throw err;
      }
      const transactional = caps.delivery === "exactly-once-transactional";
      const stored = transactional ? writer.storedCheckpoint : undefined;
      const firstId = transactional ? epochId(rangeName, stored ?? "") : openingEpochId(req.state, rangeName);
      const run = new EpochRunner(writer, req.bindings, rangeName, caps.operations.includes("deletes"), firstId, ctx.log);
      const transactor = sinkTransactor({
        delivery: caps.delivery,
        writer,
        run,
        range: rangeName,
        state: req.state,
        log: ctx.log,
        async onEnd() {
          ctx.log.info("sink metrics", { ...run.counters, ...(writer.metrics?.() ?? {}) });
          await writer.close?.();
        },
      });
      const opened: Opened = { transactor };
      if (transactional) opened.runtimeCheckpoint = stored ? decodeCheckpoint(stored) : ZERO_CHECKPOINT;
      return opened;
    },
  };
  if (def.healthCheck) connector.healthCheck = (config, ctx) => def.healthCheck!(config, ctx);
  return connector;
}

/** Fails the session when the writer lacks what its capabilities promise. */
function checkWriter(name: string, caps: SinkCapabilities, w: SinkWriter, standardBindings: boolean): void {
  const missing = (what: string, why: string) => new ConnectorError(`connector ${name}: its sink has no ${what}, which ${why} requires`);
  if (typeof w.writeBatch !== "function") throw missing("writeBatch()", "every sink");
  if (standardBindings && !w.load) throw missing("load()", "a binding with standard (non-delta) updates");
  if (caps.delivery === "exactly-once-transactional") {
    if (!w.commitEpoch) throw missing("commitEpoch()", "exactly-once-transactional delivery");
    if (w.storedCheckpoint === undefined) throw missing("storedCheckpoint (null when none is stored)", "exactly-once-transactional delivery");
  }
  if (caps.delivery === "exactly-once-idempotent" && (!w.preCommit || !w.commitEpoch)) {
    throw missing("preCommit() and commitEpoch()", "exactly-once-idempotent delivery");
  }
}
