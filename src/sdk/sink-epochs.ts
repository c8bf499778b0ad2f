/**
 * One session's epochs: turns a transaction's Stores into
 * beginEpoch → writeBatch* → flush on a SinkWriter, and rolls back the open
 * epoch when a step fails or the session ends before it committed.
 */
import type { Logger } from "../log.js";
import { ConnectorError } from "./errors.js";
import type { Epoch, SinkWriter } from "./sink.js";
import type { MaterializeBinding, StoreIterator, StoreRequest } from "./types.js";

const DEFAULT_BATCH_SIZE = 1000;

export interface SinkCounters {
  epochs: number;
  committed: number;
  rolledBack: number;
  batches: number;
  stores: number;
  [k: string]: number;
}

export class EpochRunner {
  /** The id the next epoch gets. */
  nextId: string;
  /** The epoch begun and not yet committed or rolled back. */
  private current?: Epoch;
  readonly counters: SinkCounters = { epochs: 0, committed: 0, rolledBack: 0, batches: 0, stores: 0 };
  /** The most Stores per writeBatch. */
  private readonly batchSize: number;

  constructor(
    private readonly writer: SinkWriter,
    private readonly bindings: MaterializeBinding[],
    private readonly range: string,
    private readonly deletes: boolean,
    firstId: string,
    private readonly log: Logger,
  ) {
    this.nextId = firstId;
    const size = writer.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isInteger(size) || size < 1) throw new ConnectorError(`the sink's batchSize must be a positive integer, got ${size}`);
    this.batchSize = size;
  }

  /** Runs the epoch's writes; says whether anything was written. */
  async write(it: StoreIterator): Promise<{ epoch: Epoch; wrote: boolean }> {
    const epoch: Epoch = { id: this.nextId, range: this.range };
    this.current = epoch;
    this.counters.epochs++;
    const indexes = new Map<number, number>();
    let batch: StoreRequest[] = [];
    let binding = -1;
    const send = async () => {
      if (batch.length === 0) return;
      const index = indexes.get(binding) ?? 0;
      indexes.set(binding, index + 1);
      const stores = batch;
      batch = [];
      await this.writer.writeBatch({ binding, index, stores }, epoch);
      this.counters.batches++;
      this.counters.stores += stores.length;
    };
    return this.guard(async () => {
      await this.writer.beginEpoch?.(epoch);
      for await (const s of it) {
        if (s.delete && !this.deletes) {
          throw new ConnectorError(`binding ${s.binding} received a deletion, but this connector does not support deletes (disable hard deletes for it)`);
        }
        if (s.exists && this.bindings[s.binding]?.deltaUpdates) {
          throw new ConnectorError(`binding ${s.binding} uses delta updates but received a Store of an existing document`);
        }
        if (s.binding !== binding || batch.length >= this.batchSize) {
          await send();
          binding = s.binding;
        }
        batch.push(s);
      }
      await send();
      await this.writer.flush?.(epoch);
      return { epoch, wrote: indexes.size > 0 };
    });
  }

  /** Runs a step of the open epoch, rolling it back if the step fails. */
  async guard<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (err) {
      await this.rollback(err);
      throw err;
    }
  }

  /** The open epoch committed; the next one gets `nextId` when given. */
  committed(nextId?: string): void {
    this.current = undefined;
    this.counters.committed++;
    if (nextId !== undefined) this.nextId = nextId;
  }

  /** Rolls back the open epoch, if any; a failure to roll back is logged, not thrown. */
  async rollback(reason: unknown): Promise<void> {
    const e = this.current;
    this.current = undefined;
    if (!e) return;
    this.counters.rolledBack++;
    try {
      await this.writer.rollbackEpoch?.(e, reason);
    } catch (err) {
      this.log.warn("could not roll back an epoch", { epoch: e.id, error: err instanceof Error ? err.message : String(err) });
    }
  }
}
