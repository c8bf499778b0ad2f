/**
 * KV keys from document keys: only the KV key charset, one token per
 * component, no two keys alike, and decodable back; staged chunks survive
 * their framing byte for byte.
 */
import { describe, expect, it } from "vitest";
import { decodeChunk, ChunkBuilder } from "./chunk.js";
import { decodeKvKey, kvKey, MAX_KEY_BYTES, nameToken } from "./keys.js";
import { RecordKind } from "./records.js";

const KV_KEY = /^[-/_=.A-Za-z0-9]+$/;

describe("kvKey", () => {
  it("keeps integers and plain strings readable", () => {
    expect(kvKey("[42]")).toBe("42");
    expect(kvKey('["eu",-7]')).toBe("eu.-7");
    expect(kvKey('["550e8400-e29b-41d4-a716-446655440000"]')).toBe("550e8400-e29b-41d4-a716-446655440000");
    expect(kvKey("[12345678901234567890123]")).toBe("12345678901234567890123");
  });

  it("escapes everything else, so keys of different values never collide", () => {
    const keys = [
      "[1]", '["1"]', "[1.5]", '["1.5"]', "[true]", '["true"]', "[null]", '["null"]', "[false]",
      '["a.b"]', '["a","b"]', '["a b"]', '["*"]', '[">"]', '[""]', '["=st"]', '["ünïcödé ☕"]', '["a\\nb"]',
      '["$KV"]', '["a/b"]', '["-"]', "[-1]", '["-1"]', '["a", 1]', '["a", "1"]', "[1e3]", "[1000]",
    ];
    const encoded = keys.map(kvKey);
    for (const k of encoded) {
      expect(k).toMatch(KV_KEY);
      expect(k.startsWith(".") || k.endsWith(".") || k.includes("..")).toBe(false);
    }
    expect(new Set(encoded).size).toBe(keys.length);
  });

  it("decodes back to the key's values", () => {
    expect(decodeKvKey(kvKey('["a.b", 3, true, null, "x", 1.25, "7"]'))).toEqual(["a.b", { number: "3" }, true, null, "x", { number: "1.25" }, "7"]);
  });

  it("refuses keys too long for a subject, and composite components", () => {
    expect(() => kvKey(JSON.stringify(["x".repeat(MAX_KEY_BYTES + 1)]))).toThrow(/refused/);
    expect(() => kvKey('[{"a":1}]')).toThrow(/scalar/);
  });

  it("makes subject tokens of names", () => {
    expect(nameToken("acmeCo/nats")).toBe("acmeCo/nats");
    expect(nameToken("acme.co/x y")).toMatch(/^=[A-Za-z0-9_-]+$/);
  });
});

describe("chunks", () => {
  it("frame records and give them back byte for byte", () => {
    const b = new ChunkBuilder();
    const records = [
      { kind: RecordKind.put, binding: 0, subject: "$KV.b.1", key: "", payload: '{"id":1,"s":"ünï"}' },
      { kind: RecordKind.del, binding: 0, subject: "$KV.b.2", key: "", payload: "" },
      { kind: RecordKind.delete, binding: 7, subject: "orders.x", key: '["a",2]', payload: '{"_meta":{"op":"d"}}' },
    ];
    for (const r of records) b.add(r);
    expect(b.records).toBe(3);
    const out = decodeChunk(b.take(), "chunk");
    expect(out.map((r) => ({ ...r, payload: Buffer.from(r.payload).toString("utf8") }))).toEqual(records);
    expect(b.records).toBe(0);
    expect(() => decodeChunk(new Uint8Array([1, 0, 0]), "chunk 1")).toThrow(/chunk 1 is truncated/);
  });
});
