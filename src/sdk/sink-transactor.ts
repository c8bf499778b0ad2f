/**
 * The Transactor of a sink-layer session, one per delivery model. Each maps
 * Flow's transaction onto an epoch (see sink.ts); the recovery-log models
 * reuse stagedTransactor and atLeastOnceTransactor.
 */
import { encodeCheckpoint } from "./checkpoint.js";
import { ConnectorError } from "./errors.js";
import type { Logger } from "../log.js";
import { atLeastOnceTransactor } from "./at-least-once.js";
import { stagedTransactor } from "./staged.js";
import { epochId, epochPatch, mergeUpdates } from "./sink-epoch.js";
import type { EpochRunner } from "./sink-epochs.js";
import type { Epoch, SinkDelivery, SinkWriter } from "./sink.js";
import type { LoadIterator, StartCommitFn, StateUpdate, StoreIterator, Transactor } from "./types.js";

/** The description kept in connector state for exactly-once-idempotent epochs. */
export interface StagedEpoch<P = unknown> {
  epoch: string;
  work: P;
}

export interface SinkTransactorOptions {
  delivery: SinkDelivery;
  writer: SinkWriter;
  run: EpochRunner;
  range: string;
  /** The connector state the session opened with. */
  state: unknown;
  log: Logger;
  /** Called once the session ends, after the open epoch was rolled back. */
  onEnd(): Promise<void>;
}

function loader(writer: SinkWriter): Transactor["load"] {
  if (!writer.load) return undefined;
  return async (it: LoadIterator, loaded) => {
    const keys = [];
    for await (const l of it) keys.push(l);
    await it.committed();
    await writer.load!(keys, loaded);
  };
}

/** A commit step that also records the next epoch id when the epoch wrote. */
function nextEpoch(o: SinkTransactorOptions, wrote: boolean, cp: string): StateUpdate | undefined {
  if (!wrote) {
    o.run.committed();
    return undefined;
  }
  const id = epochId(o.range, cp);
  o.run.committed(id);
  return epochPatch(o.range, id);
}

export function sinkTransactor(o: SinkTransactorOptions): Transactor {
  const { writer, run } = o;
  const destroy = async () => {
    await run.rollback(new ConnectorError("the session ended before the epoch committed"));
    await o.onEnd();
  };

  if (o.delivery === "exactly-once-transactional") {
    const t: Transactor = {
      async store(it: StoreIterator): Promise<StartCommitFn> {
        const { epoch } = await run.write(it);
        return async (req) => {
          const checkpoint = encodeCheckpoint(req.runtimeCheckpoint);
          await run.guard(async () => {
            await writer.preCommit?.(epoch);
            await writer.commitEpoch!(epoch, { checkpoint });
          });
          // Every commit stores a new checkpoint, which the next epoch's id follows.
          run.committed(epochId(o.range, checkpoint));
        };
      },
      async acknowledge() {},
      destroy,
    };
    const load = loader(writer);
    if (load) t.load = load;
    return t;
  }

  if (o.delivery === "at-least-once") {
    let last: { epoch: Epoch; wrote: boolean } | undefined;
    const inner = atLeastOnceTransactor({
      async write(it) {
        last = await run.write(it);
      },
      destroy,
    });
    const load = loader(writer);
    if (load) inner.load = load;
    return {
      ...inner,
      async store(it) {
        const commit = await inner.store(it);
        const { epoch, wrote } = last!;
        return async (req) => {
          await commit(req);
          await run.guard(async () => {
            await writer.preCommit?.(epoch);
            await writer.commitEpoch?.(epoch, {});
          });
          return nextEpoch(o, wrote, encodeCheckpoint(req.runtimeCheckpoint));
        };
      },
    };
  }

  // exactly-once-idempotent: the staged (recovery-log) model.
  let last: { epoch: Epoch; wrote: boolean } | undefined;
  const inner = stagedTransactor<StagedEpoch>({
    state: o.state,
    entry: o.range,
    log: o.log,
    async stage(it) {
      last = await run.write(it);
      const epoch = last.epoch;
      const work = await run.guard(() => writer.preCommit!(epoch));
      if (work === undefined) return undefined;
      last.wrote = true;
      return { epoch: epoch.id, work };
    },
    async apply(p, info) {
      await writer.commitEpoch!({ id: p.epoch, range: o.range }, { pending: p.work, recovered: info.recovered });
    },
    destroy,
    ...(writer.load ? { load: loader(writer) } : {}),
  });
  return {
    ...inner,
    async store(it) {
      const commit = await inner.store(it);
      const { wrote } = last!;
      return async (req) => {
        const staged = await commit(req);
        return mergeUpdates(staged, nextEpoch(o, wrote, encodeCheckpoint(req.runtimeCheckpoint)));
      };
    },
  };
}
