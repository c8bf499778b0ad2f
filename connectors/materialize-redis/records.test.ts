/**
 * Store documents go to Redis as the bytes received (records.ts, chunk.ts):
 * the keys hold exactly what the text path wrote, in both delivery modes,
 * and the byte path is the one taken for every document that is UTF-8.
 */
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import connector from "./connector.js";
import { ChunkBuilder } from "./chunk.js";
import { ack, dropNamespace, endpoint, flush, materialization, namespace, open, redis, req, session, startCommit } from "./test-support.js";
import { rng } from "../../test/support/rng.js";

const r = redis();
const namespaces: string[] = [];
afterEach(async () => {
  for (const n of namespaces.splice(0)) await dropNamespace(r, n);
  vi.restoreAllMocks();
});
afterAll(() => r.disconnect());

const enc = new TextEncoder();

/** Documents as bytes: edge values, one that is not UTF-8, and seeded random text. */
function documents(): Uint8Array[] {
  const next = rng(11);
  const docs = [
    enc.encode("{}"),
    enc.encode(JSON.stringify({ s: "é中文😀\u2028\u2029", esc: "\\:\"\n" })),
    enc.encode(JSON.stringify({ big: "y".repeat(200_000) })),
    enc.encode('{"n":123456789012345678901234567890}'),
    new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), // not UTF-8
  ];
  const alphabet = ["a", "ü", "😀", "\\\\", '\\"', ":", " ", "中"];
  while (docs.length < 60) {
    let s = "";
    for (let i = next(50); i > 0; i--) s += alphabet[next(alphabet.length)];
    docs.push(enc.encode(`{"i":${docs.length},"s":"${s}"}`));
  }
  return docs;
}

describe("materialize-redis Store documents as bytes", () => {
  for (const delivery of ["exactly_once", "at_least_once"]) {
    it(`${delivery}: keys hold the received bytes (the text path's bytes for a document that is not UTF-8)`, async () => {
      const n = namespace();
      namespaces.push(n);
      const prefix = `${n}:w`;
      const spec = materialization(n, [{ prefix }], endpoint(n, { delivery, advanced: { internal_prefix: `${n}:internal`, chunk_records: 7 } }));
      const docs = documents();
      const added: Array<string | Uint8Array> = [];
      const add = ChunkBuilder.prototype.add;
      vi.spyOn(ChunkBuilder.prototype, "add").mockImplementation(function (this: ChunkBuilder, op, key, payload) {
        added.push(payload);
        add.call(this, op, key, payload);
      });
      const stores = docs.map((d, i) => req({ store: { binding: 0, keyJson: enc.encode(`[${i}]`), valuesJson: enc.encode("[]"), docJson: d } }));
      const s = session(connector);
      await s.push(open(spec), ack(), flush(), ...stores, startCommit(), ack());
      await s.sink.waitFor(5);
      s.feed.end();
      await s.done;

      const got = await r.mgetBuffer(docs.map((_, i) => `${prefix}:${i}`));
      docs.forEach((d, i) => {
        // The text path: the document decoded (bad bytes replaced), then written as UTF-8.
        const text = Buffer.from(new TextDecoder().decode(d));
        expect(got[i]!.equals(text)).toBe(true);
      });
      // Every document but the one that is not UTF-8 took the byte path.
      expect(added.length).toBe(docs.length);
      expect(added.filter((p) => typeof p !== "string").length).toBe(docs.length - 1);
      expect(typeof added[4]).toBe("string");
    });
  }
});
