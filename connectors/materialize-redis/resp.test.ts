import { Command } from "ioredis";
import { describe, expect, it } from "vitest";
import { encodeCommand } from "./resp.js";
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
});
