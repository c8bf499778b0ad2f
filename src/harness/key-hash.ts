/**
 * The 32-bit hash that places a document on a shard's key range.
 *
 * Flow uses the high 32 bits of HighwayHash-64 (a fixed key) over the packed
 * key. This harness uses MurmurHash3 (x86, 32-bit, seed 0) over the same
 * packed bytes: stable and well mixed, but not the same numbers as Flow, so
 * a key lands on the same shard every run here, not necessarily the shard
 * Flow would pick.
 */
export function keyHash(packed: Uint8Array): number {
  const c1 = 0xcc9e2d51, c2 = 0x1b873593;
  let h = 0;
  const n = packed.length;
  const blocks = n & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = packed[i]! | (packed[i + 1]! << 8) | (packed[i + 2]! << 16) | (packed[i + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = n & 3;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= packed[blocks + 2]! << 16;
    if (tail >= 2) k ^= packed[blocks + 1]! << 8;
    k ^= packed[blocks]!;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
