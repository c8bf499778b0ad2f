import { describe, expect, it } from "vitest";
import { CopyDataTap, type CopyDataTarget } from "./copy-data-tap.js";

/** A backend message: type byte, 32-bit length (counting itself), content. */
function message(code: string, content: Buffer): Buffer {
  const m = Buffer.alloc(5 + content.length);
  m[0] = code.charCodeAt(0);
  m.writeUInt32BE(4 + content.length, 1);
  content.copy(m, 5);
  return m;
}

/** A seeded xorshift, so every run splits the same way. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** A COPY's messages as the server sends them, with notices among the rows; each with what the tap should do with it. */
function stream(rand: () => number, rows: number, long = 3000): { bytes: Buffer; expected: string[] } {
  const parts: [string, Buffer][] = [];
  parts.push(["pg", message("Z", Buffer.from("T"))]);
  parts.push(["pg", message("H", Buffer.from([1, 0, 2, 0, 1, 0, 1]))]);
  for (let i = 0; i < rows; i++) {
    const len = rand() < 0.05 ? 0 : rand() < 0.1 ? Math.floor(rand() * long) : Math.floor(rand() * 40);
    const content = Buffer.alloc(len);
    for (let j = 0; j < len; j++) content[j] = Math.floor(rand() * 256);
    parts.push(["d", content]);
    if (rand() < 0.05) parts.push(["pg", message("N", Buffer.from(`SNOTICE\0Mrow ${i}\0\0`))]);
  }
  parts.push(["pg", message("c", Buffer.alloc(0))]);
  parts.push(["pg", message("C", Buffer.from("COPY 1\0"))]);
  parts.push(["pg", message("Z", Buffer.from("T"))]);
  const bytes = Buffer.concat(parts.map(([kind, b]) => (kind === "d" ? message("d", b) : b)));
  return { bytes, expected: merge(parts) };
}

/** Adjacent pieces of the same kind joined: what was handed over, in order, whatever the reads were. */
function merge(log: [string, Buffer][]): string[] {
  const runs: [string, Buffer[]][] = [];
  for (const [kind, b] of log) {
    const last = runs[runs.length - 1];
    if (last && last[0] === kind) last[1].push(b);
    else runs.push([kind, [b]]);
  }
  // As text, which the matchers compare far faster than Buffers.
  return runs.map(([kind, bs]) => `${kind} ${Buffer.concat(bs).toString("hex")}`).filter((r) => !r.endsWith(" "));
}

/** Feeds `bytes` to a tap in reads cut at `cuts`; returns what went to pg and to the target, in order. */
function run(bytes: Buffer, cuts: number[], takes = true): string[] {
  const log: [string, Buffer][] = [];
  const target: CopyDataTarget = { copyData: (buf, start, end) => void log.push(["d", Buffer.from(buf.subarray(start, end))]) };
  const tap = new CopyDataTap((b) => void log.push(["pg", Buffer.from(b)]), () => (takes ? target : { handleCopyData() {} }));
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    // Each read its own buffer, as a socket's are.
    tap.onData(Buffer.from(bytes.subarray(from, cut)));
    from = cut;
  }
  return merge(log);
}

describe("CopyDataTap", () => {
  it("hands every CopyData's content to the active target and every other byte to pg, in order, however the reads are cut", () => {
    const rand = rng(17);
    const { bytes, expected } = stream(rand, 40, 200);
    // Every single cut, then pairs of cuts close together (headers cut in two places).
    for (let cut = 1; cut < bytes.length; cut++) expect(run(bytes, [cut])).toEqual(expected);
    for (let cut = 1; cut + 6 < bytes.length; cut += 3) {
      for (let gap = 1; gap <= 6; gap++) expect(run(bytes, [cut, cut + gap])).toEqual(expected);
    }
  });

  it("is byte-identical to the stream for seeded random reads of a long COPY", () => {
    for (let seed = 1; seed <= 10; seed++) {
      const rand = rng(seed);
      const { bytes, expected } = stream(rand, 2000);
      const cuts: number[] = [];
      for (let at = 0; ; ) {
        at += 1 + Math.floor(rand() * (seed % 2 ? 70_000 : 300));
        if (at >= bytes.length) break;
        cuts.push(at);
      }
      expect(run(bytes, cuts)).toEqual(expected);
    }
  });

  it("passes everything to pg, unchanged, while the active query does not take CopyData", () => {
    const { bytes } = stream(rng(5), 300);
    for (const cuts of [[], [1], [4], [5], [6], [777], [100, 101, 102, 103, 104, 105]]) {
      expect(run(bytes, cuts, false)).toEqual([`pg ${bytes.toString("hex")}`]);
    }
  });
});
