import { describe, expect, it } from "vitest";
import { FrameScanner } from "./_frame-scanner.js";

/** A deterministic generator (mulberry32) so a failure can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function framed(payloads: Buffer[]): Buffer {
  return Buffer.concat(
    payloads.flatMap((p) => {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(p.length);
      return [len, p];
    }),
  );
}

function scanAll(chunks: Buffer[]): { frames: string[]; pending: number } {
  const frames: string[] = [];
  const s = new FrameScanner((b, start, end) => frames.push(b.toString("hex", start, end)));
  for (const c of chunks) s.push(c);
  return { frames, pending: s.pending };
}

describe("FrameScanner", () => {
  it("hands over every payload whole however the stream is cut, seeded random", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const r = rng(seed);
      // Empty payloads, one-byte ones, and some larger than the 64 KiB scratch buffer.
      const payloads = Array.from({ length: 1 + Math.floor(r() * 40) }, () => {
        const big = r() < 0.05;
        const n = big ? 65_536 + Math.floor(r() * 100_000) : Math.floor(r() * 600);
        return Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
      });
      const stream = framed(payloads);
      const chunks: Buffer[] = [];
      for (let pos = 0; pos < stream.length; ) {
        const n = r() < 0.2 ? 1 + Math.floor(r() * 5) : 1 + Math.floor(r() * 70_000);
        chunks.push(stream.subarray(pos, pos + n));
        pos += n;
      }
      const got = scanAll(chunks);
      expect(got.frames, `seed ${seed}`).toEqual(payloads.map((p) => p.toString("hex")));
      expect(got.pending).toBe(0);
    }
  });

  it("keeps an incomplete frame (a cut length prefix, a cut payload) until the rest arrives", () => {
    const stream = framed([Buffer.from("abc"), Buffer.from("defgh")]);
    const s: string[] = [];
    const scanner = new FrameScanner((b, start, end) => s.push(b.toString("latin1", start, end)));
    scanner.push(stream.subarray(0, 9)); // first frame, then 2 bytes of the second's prefix
    expect(s).toEqual(["abc"]);
    expect(scanner.pending).toBe(2);
    scanner.push(stream.subarray(9, 13)); // the rest of the prefix and 2 payload bytes
    expect(s).toEqual(["abc"]);
    expect(scanner.pending).toBe(6);
    scanner.push(stream.subarray(13));
    expect(s).toEqual(["abc", "defgh"]);
    expect(scanner.pending).toBe(0);
  });
});
