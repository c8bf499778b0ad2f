/**
 * The target keys of the staged transaction that is not applied yet, so
 * that Loads of the next transaction can read every other key while the
 * apply runs: a key the pending transaction does not write holds the same
 * value before and after its apply, so reading it early is still
 * read-committed. Loaded responses still wait for the apply (the runtime
 * accepts them only after Acknowledged); only the reads overlap it.
 *
 * Unknown (every key may be written) when the session opened with a stage
 * recovered from its state, or when a transaction writes more keys than are
 * worth keeping in memory.
 */

/** Keys remembered per transaction; beyond this every Load waits for the apply. */
export const MAX_PENDING_KEYS = 200_000;

export class PendingKeys {
  private keys: Set<string> | undefined;
  private unknown: boolean;

  /** `recovered`: the session opened with staged work whose keys it does not know. */
  constructor(recovered: boolean) {
    this.unknown = recovered;
  }

  /** A transaction starts staging: its keys are collected from now on. */
  begin(): void {
    this.keys = new Set();
    this.unknown = false;
  }

  add(key: string): void {
    const keys = this.keys;
    if (!keys) return;
    if (keys.size < MAX_PENDING_KEYS) {
      keys.add(key);
    } else {
      this.keys = undefined;
      this.unknown = true;
    }
  }

  /** The pending transaction is applied: nothing is pending any more. */
  applied(): void {
    this.keys = undefined;
    this.unknown = false;
  }

  /** Whether applying the pending transaction may change `key`. */
  mayWrite(key: string): boolean {
    return this.unknown || (this.keys?.has(key) ?? false);
  }
}
