import { describe, expect, it } from "vitest";
import { PassThrough, Readable } from "node:stream";
import { packTuple } from "../../src/harness/tuple.js";
import { FLOW_KEY_HASH_KEY, HighwayHash64, keyHash } from "../../src/harness/key-hash.js";
import { reduce } from "../../src/harness/reduce.js";
import { buildShape } from "../../src/harness/schema-shape.js";
import { mergePatch as applyMergePatch } from "../../src/sdk/state.js";
import { Combiner } from "../../src/harness/combiner.js";
import { FileFixture, FixtureSource } from "../../src/harness/fixture.js";
import { existsSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { splitRanges } from "../../src/harness/task-common.js";
import { uuidTime, uuidV1 } from "../../src/harness/uuid.js";
import { parseCrashPoint } from "../../src/harness/faults.js";
import { compileValidator } from "../../src/harness/validator.js";
import { flowSchemaRefs } from "../../src/harness/collection-spec.js";
import { buildCollection } from "../../src/harness/collection-spec.js";
import { collectionsFor } from "../../src/harness/task-common.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("FoundationDB tuple packing", () => {
  it("matches the tuple layer's encodings", () => {
    expect(hex(packTuple([null]))).toBe("00");
    expect(hex(packTuple([false, true]))).toBe("2627");
    expect(hex(packTuple([0]))).toBe("14");
    expect(hex(packTuple([1]))).toBe("1501");
    expect(hex(packTuple([300]))).toBe("16012c");
    expect(hex(packTuple([-1]))).toBe("13fe");
    expect(hex(packTuple(["a\u0000b"]))).toBe("026100ff6200");
    expect(hex(packTuple([1.5]))).toBe("21bff8000000000000");
    expect(hex(packTuple(["x", 2]))).toBe("02780015" + "02");
  });

  it("orders packed keys as the keys themselves", () => {
    for (const keys of [[[-1000], [-1], [0], [1], [255], [256], [70000]], [["a"], ["ab"], ["b"]], [[1, "z"], [2, "a"]]] as unknown[][][]) {
      const packed = keys.map((k) => Buffer.from(packTuple(k)));
      const sorted = [...packed].sort(Buffer.compare);
      expect(sorted.map(hex)).toEqual(packed.map(hex));
    }
  });
});

describe("shard routing", () => {
  it("hashes packed keys to the same numbers as Flow's runtime (its regression vectors)", () => {
    // Flow pins PackedKeyHash_HH64 with these values in its own tests.
    const cases: Array<[number, unknown[]]> = [
      [0xb9f08d38, [true]], [0x1505e3cb, [false]], [0x6ae719f3, ["foo", "bar"]],
      [0x8adddd61, ["foobar"]], [0x7273e587, ["foobas"]], [0xf4ec4d33, ["1"]],
      [0x1e023d95, ["2"]], [0x38a34efe, ["3"]], [0x17751bae, ["10"]], [0x87d93806, ["11"]],
      [0x3c90c1d9, [1]], [0x97901bac, [2]], [0xcbc7f1e2, [3]], [0xd1d3f3eb, [10]],
    ];
    for (const [want, key] of cases) expect([key, keyHash(packTuple(key)).toString(16)]).toEqual([key, want.toString(16)]);
    // Raw byte strings, as Flow's shuffle tests pin them.
    for (const [want, token] of [[0x64ecbab1, "bar"], [0x38ad3674, "qib"], [0x8cad4162, "foo"], [0xa08b7e30, "fub"]] as const) {
      expect(keyHash(Buffer.from(token)).toString(16)).toBe(want.toString(16));
    }
  });

  it("computes HighwayHash-64 for inputs of every length class (whole packets, 16+ and short tails)", () => {
    // The reference test key 00 01 .. 1f over inputs 00 01 .. n-1.
    const h = new HighwayHash64(Uint8Array.from({ length: 32 }, (_, i) => i));
    const hex64 = (n: number) => {
      const [lo, hi] = h.hash(Uint8Array.from({ length: n }, (_, i) => i));
      return hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0");
    };
    expect(hex64(0)).toBe("907a56de22c26e53");
    expect(hex64(1)).toBe("7eab43aac7cddd78");
    expect(hex64(2)).toBe("b8d0569ab0b53d62");
  });

  it("agrees with an independent HighwayHash implementation across packet boundaries", () => {
    // Little-endian digests from the `highwayhasher` npm package (Rust), Flow's
    // key, input byte i = (37 i + n) mod 256 for an input of n bytes.
    const flow = new HighwayHash64(Buffer.from(FLOW_KEY_HASH_KEY, "hex"));
    const want: Array<[number, string]> = [
      [16, "acbc9be7ef2f1c0b"], [17, "44af9efc45c35355"], [31, "a6e001269dd8f644"],
      [32, "ceaef914bd7187f0"], [33, "d9a8856944af389b"], [63, "b3b558a7ec785821"],
      [64, "8534d8642ae59b1e"], [100, "b1d5afb05b6dca63"], [199, "9324951115c3bf9b"],
    ];
    for (const [n, digest] of want) {
      const [lo, hi] = flow.hash(Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff));
      const le = Buffer.alloc(8);
      le.writeUInt32LE(lo, 0);
      le.writeUInt32LE(hi, 4);
      expect([n, le.toString("hex")]).toEqual([n, digest]);
    }
  });

  it("splits the key space into contiguous inclusive ranges", () => {
    const r = splitRanges(3);
    expect(r[0]!.keyBegin).toBe(0);
    expect(r[2]!.keyEnd).toBe(0xffffffff);
    expect(r[1]!.keyBegin).toBe(r[0]!.keyEnd + 1);
    expect(r[2]!.keyBegin).toBe(r[1]!.keyEnd + 1);
    // Keys spread over every shard.
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) {
      const h = keyHash(packTuple([i]));
      counts[r.findIndex((x) => h >= x.keyBegin && h <= x.keyEnd)]!++;
    }
    for (const c of counts) expect(c).toBeGreaterThan(800);
  });
});

describe("reductions", () => {
  const shape = buildShape({
    type: "object",
    reduce: { strategy: "merge" },
    properties: {
      sum: { type: "number", reduce: { strategy: "sum" } },
      min: { reduce: { strategy: "minimize" } },
      max: { reduce: { strategy: "maximize" } },
      first: { reduce: { strategy: "firstWriteWins" } },
      last: { type: "string" },
      list: { type: "array", reduce: { strategy: "append" } },
      obj: { type: "object", reduce: { strategy: "merge" }, properties: { n: { reduce: { strategy: "sum" } } } },
    },
  });

  it("applies each annotated strategy under a merged root", () => {
    const a = { sum: 1, min: 5, max: 5, first: "a", last: "a", list: [1], obj: { n: 1, keep: true } };
    const b = { sum: 2, min: 3, max: 3, first: "b", last: "b", list: [2], obj: { n: 10 }, extra: 1 };
    expect(reduce(shape, a, b)).toEqual({ sum: 3, min: 3, max: 5, first: "a", last: "b", list: [1, 2], obj: { n: 11, keep: true }, extra: 1 });
  });

  it("replaces the whole document without annotations", () => {
    const plain = buildShape({ type: "object", properties: { n: { type: "integer" } } });
    expect(reduce(plain, { n: 1, x: 1 }, { n: 2 })).toEqual({ n: 2 });
  });

  it("rejects strategies it cannot apply when the collection is built", () => {
    const catalog = {
      path: "t",
      collections: new Map([["a/b", { schema: { type: "object", properties: { id: { type: "integer" }, s: { type: "array", reduce: { strategy: "set" } } }, required: ["id"] }, key: ["/id"] }]]),
      captures: new Map(),
      materializations: new Map(),
    };
    expect(() => collectionsFor(catalog, ["a/b"], "t")).toThrow(/\/s: set/);
    expect(buildCollection("a/b", catalog.collections.get("a/b")!).spec.name).toBe("a/b");
  });

  it("combines documents by binding and key, draining in key order", () => {
    const c = new Combiner([shape]);
    c.add(0, [2], { sum: 1 });
    c.add(0, [1], { sum: 5 });
    c.add(0, [2], { sum: 2 });
    expect(c.drain().map((e) => [e.key, e.doc])).toEqual([
      [[1], { sum: 5 }],
      [[2], { sum: 3 }],
    ]);
    expect(c.size).toBe(0);
  });
});

describe("merge patches (RFC 7396)", () => {
  it("merges, replaces and deletes", () => {
    expect(applyMergePatch({ a: 1, b: { c: 1, d: 2 } }, { b: { c: null, e: 3 }, f: [1] })).toEqual({ a: 1, b: { d: 2, e: 3 }, f: [1] });
    expect(applyMergePatch({ a: 1 }, [1])).toEqual([1]);
    expect(applyMergePatch("x", { a: null, b: 1 })).toEqual({ b: 1 });
  });
});

describe("fixtures", () => {
  it("splits transactions at commit markers and re-reads from any offset", async () => {
    const text = '["c", {"id": 1}]\n{"commit": true}\n\n["c", {"id": 2}]\n["d", {"id": 3}]\n{"commit": true}\n["c", {"id": 4}]';
    const src = new FixtureSource("fixture/t", Readable.from([Buffer.from(text.slice(0, 10)), Buffer.from(text.slice(10))]));
    const t1 = (await src.readTxn(0))!;
    expect(t1.docs.map((d) => d.doc)).toEqual([{ id: 1 }]);
    expect(t1.end).toBe(text.indexOf("\n\n") + 1);
    const t2 = (await src.readTxn(t1.end))!;
    expect(t2.docs.map((d) => [d.collection, d.where])).toEqual([
      ["c", "fixture/t:4"],
      ["d", "fixture/t:5"],
    ]);
    const t3 = (await src.readTxn(t2.end))!;
    expect(t3.docs.map((d) => d.doc)).toEqual([{ id: 4 }]);
    expect(t3.end).toBe(Buffer.byteLength(text));
    expect(await src.readTxn(t3.end)).toBeUndefined();
    expect((await src.readTxn(t1.end))!.end).toBe(t2.end);
    await src.close();
  });

  it("spools a stream to disk: readers wait for lines still to come, re-read old ones, and the spool goes at close", async () => {
    const pipe = new PassThrough();
    const src = new FixtureSource("fixture/pipe", pipe);
    const a = src.reader(), b = src.reader();
    const first = a.readTxn(0);
    pipe.write('["c", {"id": 1}]\n["c", {"id"');
    await new Promise((r) => setTimeout(r, 20));
    pipe.write(': 2}]\n{"commit": true}\n["c", {"id": 3}]\n');
    const t1 = (await first)!;
    expect(t1.docs.map((d) => d.doc)).toEqual([{ id: 1 }, { id: 2 }]);
    // The open transaction is not complete until its marker or the end.
    let second: unknown = "pending";
    const t2p = a.readTxn(t1.end).then((t) => (second = t));
    await new Promise((r) => setTimeout(r, 20));
    expect(second).toBe("pending");
    pipe.end('["c", {"id": 4}]\n');
    expect((await t2p)!.docs.map((d) => d.doc)).toEqual([{ id: 3 }, { id: 4 }]);
    // Another shard's reader, and a re-read from the start after a "crash".
    expect((await b.readTxn(t1.end))!.docs.length).toBe(2);
    expect((await a.readTxn(0))!.docs[0]!.where).toBe("fixture/pipe:1");
    expect(statSync(src.spoolPath).size).toBe(src.totalBytes);
    await src.close();
    expect(existsSync(src.spoolPath)).toBe(false);
  });

  it("reads a file from any offset without holding it, as each shard does", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fixture-"));
    const path = join(dir, "f.jsonl");
    const lines: string[] = [];
    for (let t = 0; t < 50; t++) {
      for (let i = 0; i < 100; i++) lines.push(JSON.stringify(["c", { t, i, pad: "x".repeat(200) }]));
      lines.push('{"commit":true}');
    }
    writeFileSync(path, lines.join("\n")); // no final newline
    const f = new FileFixture("fixture/f.jsonl", path);
    const ends: number[] = [];
    for (let off = 0, txn = await f.readTxn(0); txn; off = txn.end, txn = await f.readTxn(off)) {
      expect(txn.docs.length).toBe(100);
      expect((txn.docs[0]!.doc as { t: number }).t).toBe(ends.length);
      ends.push(txn.end);
    }
    expect(ends.length).toBe(50);
    expect(ends.at(-1)).toBe(statSync(path).size);
    // Seek back (a recovery) and forward again; line numbers stay right.
    const again = (await f.readTxn(ends[9]!))!;
    expect((again.docs[0]!.doc as { t: number }).t).toBe(10);
    expect(again.docs[0]!.where).toBe(`fixture/f.jsonl:${10 * 101 + 1}`);
    const fresh = new FileFixture("fixture/f.jsonl", path);
    const mid = (await fresh.readTxn(ends[40]!))!;
    expect((mid.docs[5]!.doc as { i: number }).i).toBe(5);
    expect(mid.docs[0]!.where).toBe(`fixture/f.jsonl@${ends[40]}`);
    expect(mid.docs[0]!.offset).toBe(ends[40]);
    await f.close();
    await fresh.close();
  });

  it("names the line of a malformed fixture", async () => {
    const src = new FixtureSource("fixture/bad", Readable.from(['["c", {}]\n{"nope": 1}\n']));
    await expect(src.readTxn(0)).rejects.toThrow(/fixture\/bad:2: expected \["<collection>", document\]/);
    await src.close();
  });
});

describe("document validation", () => {
  it("validates against read schemas that refer to Flow's schema URLs", () => {
    const write = { type: "object", properties: { id: { type: "integer" }, at: { type: "string", format: "date-time" } }, required: ["id"] };
    const v = compileValidator({ allOf: [{ $ref: "flow://write-schema" }, { $ref: "flow://inferred-schema" }] }, "t", flowSchemaRefs(write));
    expect(v({ id: 1, at: "2024-01-01T00:00:00Z" })).toBeUndefined();
    expect(v({ id: "x" })).toBe("/id must be integer");
    expect(v({ id: 1, at: "yesterday" })).toMatch(/\/at must match format "date-time"/);
    expect(v({})).toMatch(/required property 'id'/);
  });
});

describe("odds and ends", () => {
  it("round-trips the publication time of v1 UUIDs", () => {
    const u = uuidV1(Date.UTC(2024, 0, 2, 3, 4, 5), 7);
    expect(u).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-8000-[0-9a-f]{12}$/);
    expect(uuidTime(u)!.toISOString()).toBe("2024-01-02T03:04:05.000Z");
    expect(uuidTime("not-a-uuid")).toBeUndefined();
  });

  it("parses crash points", () => {
    expect(parseCrashPoint("mid-store:3")).toEqual({ point: "mid-store", txn: 3 });
    expect(parseCrashPoint("after-open")).toEqual({ point: "after-open", txn: 1 });
    expect(() => parseCrashPoint("later")).toThrow(/unknown crash point "later"/);
    expect(() => parseCrashPoint("mid-store:0")).toThrow(/from 1/);
  });
});
