/**
 * At-least-once materializations, for destinations with neither
 * transactions nor idempotent writes (message buses, webhooks, append-only
 * logs without explicit ids).
 *
 * Writes go to the target while the transaction's Stores arrive, and are
 * confirmed before StartedCommit, so everything the runtime commits has been
 * written. The converse does not hold: if the session fails after writing
 * and before the runtime's commit lands, the runtime re-runs the transaction
 * and the target receives those writes again. Loads may also observe writes
 * of a transaction that was never committed, so reductions that are not
 * idempotent (sums, appends) can count such a transaction twice.
 *
 * Connectors that offer this mode must say so where users choose it:
 * `atLeastOnceDescription` is the sentence to put in the Spec's schemas.
 */
import type { LoadIterator, StartCommit, StoreIterator, Transactor } from "./types.js";

/** The caveat every at-least-once option must carry in its schema description. */
export const AT_LEAST_ONCE_DESCRIPTION =
  "AT-LEAST-ONCE: writes reach the destination before the runtime commits the transaction, " +
  "so after a failure a transaction may be written again (duplicates), and loads may see writes " +
  "of a transaction that was later retried.";

export interface AtLeastOnceOptions {
  /** Writes the transaction's Stores to the target; resolves once all are acknowledged by it. */
  write(it: StoreIterator): Promise<void>;
  /** Optional final step after the writes, e.g. a flush of the destination's client. */
  commit?(req: StartCommit): Promise<void>;
  load?(it: LoadIterator, loaded: (binding: number, doc: unknown) => void | Promise<void>): Promise<void>;
  destroy?(): Promise<void>;
}

export function atLeastOnceTransactor(opts: AtLeastOnceOptions): Transactor {
  const t: Transactor = {
    async store(it) {
      await opts.write(it);
      return async (req) => {
        await opts.commit?.(req);
        // No state: there is nothing to recover, the runtime simply re-runs
        // an uncommitted transaction.
      };
    },
    async acknowledge() {
      // Everything was written before StartedCommit.
    },
    async destroy() {
      await opts.destroy?.();
    },
  };
  if (opts.load) t.load = opts.load;
  return t;
}

/** Returns a copy of a JSON schema whose description starts with the at-least-once caveat. */
export function labelAtLeastOnce<S extends Record<string, unknown>>(schema: S): S {
  const prior = typeof schema.description === "string" && schema.description ? ` ${schema.description}` : "";
  return { ...schema, description: `${AT_LEAST_ONCE_DESCRIPTION}${prior}` };
}
