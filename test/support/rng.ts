/** xorshift32 for randomized tests: deterministic, so a failure reproduces from its seed. Returns n → an integer in [0, n). */
export function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

/**
 * Up to 199 seeded random JSON documents for a batch: escapes, quotes,
 * non-ASCII and astral characters, nulls, fractions, and one in 50 with
 * a value of up to 40,000 bytes.
 */
export function randomDocs(r: (n: number) => number): string[] {
  const docs: string[] = [];
  const n = r(200);
  for (let i = 0; i < n; i++) {
    const long = r(50) === 0 ? "y".repeat(r(40_000)) : "";
    docs.push(JSON.stringify({ id: r(1_000_000), s: "ab\\\"'é😀\t"[r(8)]!.repeat(r(60)) + long, n: r(2) ? null : r(100) / 7 }));
  }
  return docs;
}
