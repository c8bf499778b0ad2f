import { describe, expect, it } from "vitest";
import { ChunkBuilder, PLAIN_SETS } from "./chunk.js";
import { markerOf } from "./stage.js";
import { redisFixture } from "./test-fixture.js";
import { rng } from "../../test/support/rng.js";

const { r, scripted, ns } = redisFixture();

/** The second string of an encoded chunk (after the array and first-index headers). */
function secondElement(blob: Buffer): string {
  const firstLen = blob.readUInt32BE(6);
  const at = 5 + 5 + firstLen;
  return blob.subarray(at + 5, at + 5 + blob.readUInt32BE(at + 1)).toString("utf8");
}

/** Values that stress the encoding: unicode, escapes, empty, long, binary-looking. */
function values(seed: number, n: number): string[] {
  const next = rng(seed);
  const fixed = ["", "null", '"\\u0000\\n\\t"', "é中文😀", JSON.stringify({ a: "\u2028\u2029", b: -1e308, c: [true, false, null] }), "x".repeat(200_000), ":\\:"];
  const alphabet = ["a", "ü", "😀", "\\", '"', ":", " ", "\n", "0", "中"];
  const out = [...fixed];
  while (out.length < n) {
    let s = "";
    const len = next(64);
    for (let i = 0; i < len; i++) s += alphabet[next(alphabet.length)];
    out.push(JSON.stringify({ id: out.length, s }));
  }
  return out;
}

/** Stages `vals` under `prefix` as one chunk and applies it; returns the values read back. */
async function applyOne(prefix: string, vals: string[], general: boolean): Promise<{ second: string; applied: number; got: Array<string | null> }> {
  const chunk = new ChunkBuilder(0);
  vals.forEach((v, i) => chunk.add("S", `${prefix}:k:${i}:é`, v));
  const blob = chunk.take(general);
  const stage = `${prefix}:stage`;
  await scripted.rpush(stage, blob);
  const applied = await scripted.flowApplyChunk(stage, markerOf(stage), 0, "7");
  const got = await r.mget(vals.map((_, i) => `${prefix}:k:${i}:é`));
  return { second: secondElement(blob), applied, got };
}

describe("materialize-redis chunks of plain SETs", () => {
  it("stage in the MSET form and apply to the same values as the op-by-op form, across the 1,000-pair slices", async () => {
    const n = ns();
    // 2,501 records: three MSET slices, the last one short.
    const vals = values(17, 2501);
    const fast = await applyOne(`${n}:fast`, vals, false);
    const general = await applyOne(`${n}:general`, vals, true);
    expect(fast.second).toBe(PLAIN_SETS);
    expect(general.second).toBe("S");
    expect(fast.applied).toBe(vals.length);
    expect(general.applied).toBe(vals.length);
    expect(fast.got).toEqual(vals);
    expect(general.got).toEqual(vals);
  });

  it("keeps the op-by-op form for a chunk with any other op, and applies it in order", async () => {
    const n = ns();
    const chunk = new ChunkBuilder(0);
    chunk.add("S", `${n}:a`, "1");
    chunk.add("D", `${n}:a`, "");
    chunk.add("S60", `${n}:b`, "2");
    chunk.add("S", `${n}:c`, "3");
    const blob = chunk.take();
    expect(secondElement(blob)).toBe("S");
    await scripted.rpush(`${n}:stage`, blob);
    expect(await scripted.flowApplyChunk(`${n}:stage`, markerOf(`${n}:stage`), 0, "7")).toBe(4);
    expect(await r.mget(`${n}:a`, `${n}:b`, `${n}:c`)).toEqual([null, "2", "3"]);
    expect(await r.ttl(`${n}:b`)).toBeGreaterThan(0);
    // The next chunk of the same builder is plain again.
    chunk.add("S", `${n}:d`, "4");
    expect(secondElement(chunk.take())).toBe(PLAIN_SETS);
  });

  it("encodes a payload given as UTF-8 bytes exactly as the same payload given as text, in both forms", async () => {
    const n = ns();
    const vals = values(29, 1200);
    const enc = new TextEncoder();
    for (const general of [false, true]) {
      const text = new ChunkBuilder(5);
      const bytes = new ChunkBuilder(5);
      vals.forEach((v, i) => {
        const op = general && i % 7 === 0 ? "S60" : "S";
        text.add(op, `${n}:k:${i}:é`, v);
        // A view into a larger buffer, as a Store's document is a view of its frame.
        const b = enc.encode(`xx${v}yy`);
        bytes.add(op, `${n}:k:${i}:é`, b.subarray(2, b.length - 2));
      });
      expect(bytes.bytes).toBe(text.bytes);
      expect(bytes.take(general).equals(text.take(general))).toBe(true);
    }

    // The MSET arguments (at-least-once) carry the same bytes; apply them and read back.
    const text = new ChunkBuilder(0);
    const bytes = new ChunkBuilder(0);
    vals.forEach((v, i) => {
      text.add("S", `${n}:t:${i}`, v);
      bytes.add("S", `${n}:b:${i}`, enc.encode(v));
    });
    const t = text.takePlainSets()!;
    const b = bytes.takePlainSets()!;
    expect(b.filter((x) => Buffer.isBuffer(x)).length).toBe(vals.length); // the byte path was taken
    for (let i = 1; i < t.length; i += 2) expect((b[i] as Buffer).equals(Buffer.from(t[i] as string))).toBe(true);
    await r.mset(t);
    await r.mset(b);
    const gotT = await r.mgetBuffer(vals.map((_, i) => `${n}:t:${i}`));
    const gotB = await r.mgetBuffer(vals.map((_, i) => `${n}:b:${i}`));
    gotB.forEach((g, i) => expect(g!.equals(gotT[i]!)).toBe(true));
  });
});
