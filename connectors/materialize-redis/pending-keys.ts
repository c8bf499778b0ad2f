/**
 * The target keys of the staged transaction that is not applied yet, so
 * that Loads of the next transaction can read every other key while the
 * apply runs: a key the pending transaction does not write holds the same
 * value before and after its apply, so reading it early is still
 * read-committed. Loaded responses still wait for the apply (the runtime
 * accepts them only after Acknowledged); only the reads overlap it.
 *
 * The keys are remembered in a Bloom filter (2 MiB, three bits per key)
 * rather than a set of strings: adding a key costs a hash of its text and
 * three bit writes, where a Set of 50,000 fresh strings per transaction
 * was the connector's largest single cost in a profile. A false positive
 * only makes a batch wait for the apply (as every batch once did); a key
 * that was added is never reported absent.
 *
 * Unknown (every key may be written) when the session opened with a stage
 * recovered from its state, or when a transaction writes more keys than the
 * filter answers well for.
 */

/** Keys remembered per transaction; beyond this every Load waits for the apply. */
export const MAX_PENDING_KEYS = 200_000;

/** Bits of the filter: 2^24 (2 MiB). At 200,000 keys about 1 key in 20,000 reads as pending by mistake. */
const BITS_LOG2 = 24;
const MASK = (1 << BITS_LOG2) - 1;

/**
 * Two 32-bit hashes of a string's UTF-16 code units (FNV-1a, and a
 * multiplicative hash), from which the three bit positions are derived.
 */
function positions(key: string, out: Uint32Array): void {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b + c, 0x5bd1e995) ^ (b >>> 15);
  }
  b = (b | 1) >>> 0; // odd: the three positions differ
  out[0] = a & MASK;
  out[1] = (a + b) & MASK;
  out[2] = (a + 2 * b) & MASK;
}

export class PendingKeys {
  private bits: Uint32Array | undefined;
  /** Whether the filter describes the pending transaction. */
  private tracking = false;
  private count = 0;
  private unknown: boolean;
  private readonly at = new Uint32Array(3);

  /** `recovered`: the session opened with staged work whose keys it does not know. */
  constructor(recovered: boolean) {
    this.unknown = recovered;
  }

  /** A transaction starts staging: its keys are collected from now on. */
  begin(): void {
    if (this.bits) this.bits.fill(0);
    else this.bits = new Uint32Array(1 << (BITS_LOG2 - 5));
    this.tracking = true;
    this.count = 0;
    this.unknown = false;
  }

  add(key: string): void {
    if (!this.tracking) return;
    if (this.count++ >= MAX_PENDING_KEYS) {
      this.tracking = false;
      this.unknown = true;
      return;
    }
    const bits = this.bits!;
    const at = this.at;
    positions(key, at);
    for (let i = 0; i < 3; i++) {
      const w = at[i]! >>> 5;
      bits[w] = bits[w]! | (1 << (at[i]! & 31));
    }
  }

  /** The pending transaction is applied: nothing is pending any more. */
  applied(): void {
    this.tracking = false;
    this.unknown = false;
  }

  /** Whether applying the pending transaction may change `key`. */
  mayWrite(key: string): boolean {
    if (this.unknown) return true;
    if (!this.tracking) return false;
    const bits = this.bits!;
    const at = this.at;
    positions(key, at);
    for (let i = 0; i < 3; i++) if ((bits[at[i]! >>> 5]! & (1 << (at[i]! & 31))) === 0) return false;
    return true;
  }
}
