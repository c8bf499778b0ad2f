import { Command } from "ioredis";
import { describe, expect, it } from "vitest";
import { commandSizeOf, encodeCommand, writeCommandOf } from "./resp.js";
import { ChunkBuilder, plainSetRanges } from "./chunk.js";
import { rng } from "../../test/support/rng.js";

describe("materialize-redis RESP encoding", () => {
  it("encodes a command exactly as ioredis does (edge lengths, text, seeded random bytes)", () => {
    const next = rng(23);
    const args: Buffer[] = [Buffer.alloc(0), Buffer.from("é"), Buffer.from("\r\n"), Buffer.alloc(9, 1), Buffer.alloc(10, 2), Buffer.alloc(99_999, 3), Buffer.alloc(100_000, 4)];
    while (args.length < 3000) args.push(Buffer.from(Array.from({ length: next(300) }, () => next(256))));
    for (const n of [0, 1, 9, 10, 11, args.length]) {
      const ours = encodeCommand("MSET", args.slice(0, n));
      const theirs = new Command("MSET", args.slice(0, n)).toWritable({});
      expect(ours.equals(Buffer.isBuffer(theirs) ? theirs : Buffer.from(theirs))).toBe(true);
    }
    // Text arguments, alone and mixed with bytes, are written as UTF-8.
    const texts = ["", "a", "é中文😀", "k:1\\:2", "\r\n", "x".repeat(1000)];
    for (const mixed of [texts, [...texts, ...args.slice(0, 50)], args.slice(0, 50).flatMap((a, i) => [texts[i % texts.length]!, a])]) {
      const theirs = new Command("MSET", mixed).toWritable({});
      expect(encodeCommand("MSET", mixed).equals(Buffer.isBuffer(theirs) ? theirs : Buffer.from(theirs))).toBe(true);
    }
  });

  it("encodes the MSET of a staged chunk from its bytes as from its records", () => {
    const next = rng(47);
    const records: string[] = ["k:é", "", "k2", "é中文😀", "k3", "x".repeat(70_000)];
    while (records.length < 2000) records.push(`k:${records.length}`, JSON.stringify({ r: next(1e9), s: "ü".repeat(next(30)) }));
    const chunk = new ChunkBuilder(12);
    for (let i = 0; i < records.length; i += 2) chunk.add("S", records[i]!, Buffer.from(records[i + 1]!));
    const blob = chunk.take();
    const ranges = plainSetRanges(blob)!;
    expect(ranges.length).toBe(records.length * 2);
    // Written at an offset into a larger buffer, as the apply writes a group's MSETs.
    const buf = Buffer.alloc(commandSizeOf("MSET", ranges) + 10);
    expect(writeCommandOf(buf, 7, "MSET", blob, ranges)).toBe(buf.length - 3);
    expect(buf.subarray(7, buf.length - 3).equals(encodeCommand("MSET", records))).toBe(true);
    // A chunk in the general form has no MSET.
    const general = new ChunkBuilder(0);
    general.add("S", "a", "1");
    general.add("D", "b", "");
    expect(plainSetRanges(general.take())).toBeUndefined();
  });
});

