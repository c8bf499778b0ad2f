/**
 * Applying a staged transaction from the chunks the session kept
 * (stage.ts applyRetained): the same keys, values and marker as the apply
 * script produces from the stage, and every course but the expected one
 * handed to the script.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { ChunkBuilder } from "./chunk.js";
import { applyRetained, applyStaged, markerOf, StageWriter, type StagedTxn } from "./stage.js";
import { redisFixture } from "./test-fixture.js";
import { rng } from "../../test/support/rng.js";

const { r, scripted, ns } = redisFixture();
afterEach(() => vi.restoreAllMocks());

/** Values that stress the encoding, then seeded random JSON. */
function values(seed: number, n: number): string[] {
  const next = rng(seed);
  const out = ["", "null", "é中文😀", JSON.stringify({ a: "\u2028\u2029", b: -1e308 }), "z".repeat(200_000), ":\\:", "\r\n$3\r\n*1"];
  const alphabet = ["a", "ü", "😀", "\\", '"', ":", "\r", "\n", "$", "*", "中"];
  while (out.length < n) {
    let s = "";
    for (let i = next(64); i > 0; i--) s += alphabet[next(alphabet.length)];
    out.push(JSON.stringify({ id: out.length, s }));
  }
  return out;
}

const keyOf = (prefix: string, i: number) => `${prefix}:k:${i}:é\\:`;

/** Stages `vals` under `prefix` in chunks of `per` plain SETs; returns the transaction and its chunks. */
async function stage(prefix: string, vals: string[], per: number): Promise<{ t: StagedTxn; chunks: Buffer[] }> {
  const chunk = new ChunkBuilder(0);
  const chunks: Buffer[] = [];
  vals.forEach((v, i) => {
    chunk.add("S", keyOf(prefix, i), v);
    if (chunk.records === per || i === vals.length - 1) chunks.push(chunk.take());
  });
  const t: StagedTxn = { stage: `${prefix}:stage`, stamp: "7", chunks: chunks.length, records: vals.length };
  await r.rpush(t.stage, ...chunks);
  return { t, chunks };
}

async function read(prefix: string, n: number): Promise<Array<Buffer | null>> {
  return r.mgetBuffer(Array.from({ length: n }, (_, i) => keyOf(prefix, i)));
}

describe("materialize-redis apply from kept chunks", () => {
  it("writes the same values and marker as the apply script, without calling it", async () => {
    const n = ns();
    const vals = values(3, 2501); // 11 chunks of 250 (the last short): three MULTI groups
    const kept = await stage(`${n}:a`, vals, 250);
    const staged = await stage(`${n}:b`, vals, 250);
    expect(await applyStaged(scripted, staged.t)).toBe(true);
    const script = vi.spyOn(scripted, "flowApplyChunk");
    expect(await applyRetained(scripted, kept.t, kept.chunks)).toBe(true);
    expect(script).not.toHaveBeenCalled();
    const a = await read(`${n}:a`, vals.length);
    const b = await read(`${n}:b`, vals.length);
    a.forEach((v, i) => expect(v!.equals(b[i]!)).toBe(true));
    expect(b.map((v) => v!.toString())).toEqual(vals);
    expect(await r.get(markerOf(kept.t.stage))).toBe(await r.get(markerOf(staged.t.stage)));
    expect(await r.get(markerOf(kept.t.stage))).toBe("10");
    // Applying again changes nothing (the script sees every chunk applied).
    await r.set(keyOf(`${n}:a`, 0), "changed since");
    expect(await applyRetained(scripted, kept.t, kept.chunks)).toBe(true);
    expect(await r.get(keyOf(`${n}:a`, 0))).toBe("changed since");
  });

  it("hands a moved marker, an altered stage and a missing stage to the script", async () => {
    const n = ns();
    const vals = values(9, 100);
    const script = vi.spyOn(scripted, "flowApplyChunk");

    // Another session applied chunks 0-2: the script skips them and applies the rest.
    const moved = await stage(`${n}:m`, vals, 10);
    await r.set(markerOf(moved.t.stage), "2");
    expect(await applyRetained(scripted, moved.t, moved.chunks)).toBe(true);
    expect(script).toHaveBeenCalled();
    const got = await read(`${n}:m`, vals.length);
    expect(got.slice(0, 30).every((v) => v === null)).toBe(true);
    expect(got.slice(30).map((v) => v!.toString())).toEqual(vals.slice(30));
    expect(await r.get(markerOf(moved.t.stage))).toBe("9");

    // A stage with another element than this session pushed: the script applies what the stage holds.
    script.mockClear();
    const altered = await stage(`${n}:x`, vals, 10);
    const other = new ChunkBuilder(0);
    other.add("S", keyOf(`${n}:x`, 0), "from the stage");
    await r.lset(altered.t.stage, 0, other.take());
    await r.rpush(altered.t.stage, "extra");
    // Its length is not what this session pushed: the script applies the stage's chunks (the extra element, past the last chunk, is never read).
    expect(await applyRetained(scripted, altered.t, altered.chunks)).toBe(true);
    expect(script).toHaveBeenCalled();
    expect(await r.get(keyOf(`${n}:x`, 0))).toBe("from the stage");

    // The stage is gone: an earlier session applied and removed it.
    const gone = await stage(`${n}:g`, vals, 10);
    await r.del(gone.t.stage);
    expect(await applyRetained(scripted, gone.t, gone.chunks)).toBe(false);
    expect((await read(`${n}:g`, vals.length)).every((v) => v === null)).toBe(true);
  });

  it("keeps a transaction's chunks only while all are plain SETs and within 32 MiB", async () => {
    const n = ns();
    const write = async (stage: string, records: Array<[string, string]>) => {
      const w = new StageWriter(scripted, `${n}:${stage}`, 3);
      for (const [op, payload] of records) await w.add({ op, key: `${n}:k`, payload });
      await w.finish();
      return w;
    };
    const plain = await write("plain", Array.from({ length: 7 }, (_, i): [string, string] => ["S", String(i)]));
    expect(plain.retained?.length).toBe(3);
    expect(plain.retained).toEqual(await r.lrangeBuffer(plain.stage, 0, -1));
    expect((await write("ttl", [["S", "1"], ["S60", "2"], ["S", "3"], ["S", "4"]])).retained).toBeUndefined();
    const mib = "m".repeat(1 << 20);
    expect((await write("big", Array.from({ length: 33 }, (): [string, string] => ["S", mib]))).retained).toBeUndefined();
  });
});

