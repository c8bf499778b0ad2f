/**
 * The load's two ways in, against a real PostgreSQL: keys as batches of
 * bytes (LoadIterator.batches, what the SDK offers) and keys as LoadRequest
 * text (the per-request iterator) must answer with the same Loaded
 * documents, byte for byte.
 */
import { describe, expect, it } from "vitest";
import { loadKeyText } from "../../src/sdk/materialize.js";
import { RawJsonBytes, type LoadBatch, type LoadIterator, type LoadRequest, type Transactor } from "../../src/sdk/types.js";
import { collection, ROOT } from "../../src/sql/test-fixtures.js";
import { rng } from "../../test/support/rng.js";
import { w, widgetBinding } from "../../test/support/materialize-driver.js";
import connector from "./connector.js";
import { applyRequest, checkpoint, ctx, endpointConfig, materialization, openRequest, transaction, type BindingDesc } from "./test-support.js";
import { testSchemas } from "./test-schemas.js";

const db = testSchemas("mpgb");
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));

const pairs = collection("acme/pairs", [
  { field: "region", types: ["string"], key: true },
  { field: "n", types: ["integer"], key: true },
  { field: "v", types: ["string"] },
  ROOT,
]);
const pairBinding: BindingDesc = { resource: { table: "pairs" }, collection: pairs, keys: ["region", "n"], values: ["v"], document: "flow_document" };

interface Key {
  binding: number;
  key: Uint8Array;
}

/** Loads `keys` through the batch form (in batches of uneven sizes); the per-request form throws if the transactor reads it. */
async function loadBatched(t: Transactor, keys: Key[], sizes: (n: number) => number): Promise<{ found: string[]; batchesRead: boolean }> {
  const batches: LoadBatch[] = [];
  for (let i = 0; i < keys.length; ) {
    const part = keys.slice(i, i + 1 + sizes(700));
    batches.push({ bindings: part.map((k) => k.binding), keys: part.map((k) => k.key), packed: part.map(() => new Uint8Array()) });
    i += part.length;
  }
  let batchesRead = false;
  const it: LoadIterator = {
    [Symbol.asyncIterator](): AsyncIterator<LoadRequest> {
      throw new Error("the per-request form was read");
    },
    async *batches() {
      batchesRead = true;
      yield* batches;
    },
    committed: () => Promise.resolve(),
  };
  return { found: await run(t, it), batchesRead };
}

/** Loads `keys` through the per-request form only, each key's text as the SDK gives it. */
async function loadPerRequest(t: Transactor, keys: Key[]): Promise<string[]> {
  const requests = keys.map((k) => ({ binding: k.binding, keyJson: loadKeyText(k.key), keyPacked: new Uint8Array() }));
  const it: LoadIterator = {
    async *[Symbol.asyncIterator]() {
      yield* requests;
    },
    committed: () => Promise.resolve(),
  };
  return run(t, it);
}

/** The Loaded documents as `binding:hex of the bytes`, sorted (chunking, and so row order, depends on timing). */
async function run(t: Transactor, it: LoadIterator): Promise<string[]> {
  const found: string[] = [];
  await t.acknowledge({ statePatches: "" });
  await t.load!(it, (binding, doc) => {
    if (!(doc instanceof RawJsonBytes)) throw new Error("expected the document's bytes");
    found.push(`${binding}:${Buffer.from(doc.bytes).toString("hex")}`);
  });
  return found.sort();
}

describe("materialize-postgres load: batches of key bytes", () => {
  it("answers byte for byte as the per-request path on edge keys and seeded random keys", async () => {
    const schema = db.fresh();
    const spec = materialization("acme/mat", endpointConfig(schema), [widgetBinding(), pairBinding]);
    await connector.apply(applyRequest(spec), ctx());
    const { transactor: t } = await connector.open(openRequest(spec), ctx());
    try {
      const r = rng(99);
      const alphabet = ["a", "Z", "0", " ", "'", '"', "\\", ",", "{", "}", "é", "😀", "\t", "N", "U", "L", "(", ")"];
      const ids = [1, 2, 9223372036854775807n, -9223372036854775808n, 0, -1];
      for (let i = 0; i < 3000; i++) ids.push(r(1_000_000_000) - 500_000_000);
      const uniqueIds = [...new Set(ids.map(String))];
      const regions = ["", "it's", 'say "hi"', "back\\slash", "é😀", "{,}", "NULL", " padded ", "12"];
      for (let i = 0; i < 800; i++) {
        let s = "";
        for (let n = r(10); n > 0; n--) s += alphabet[r(alphabet.length)];
        regions.push(s);
      }
      const uniqueRegions = [...new Set(regions)];
      const stores = [
        ...uniqueIds.map((id, i) => ({ ...w(0, `w${i}`), binding: 0, keyJson: `[${id}]`, docJson: `{"id":${id},"name":"w${i} é😀 \\"q\\""}` })),
        ...uniqueRegions.map((region, i) => ({
          binding: 1,
          keyJson: JSON.stringify([region, i]),
          valuesJson: JSON.stringify([`v${i}`]),
          docJson: JSON.stringify({ region, n: i, v: `v${i}`, pad: "x".repeat(r(300)) }),
        })),
      ];
      // Stored in parts: each transaction stores each key once.
      for (let i = 0; i < stores.length; i += 1000) await transaction(t, { stores: stores.slice(i, i + 1000), checkpoint: checkpoint(1 + i) });

      const keys: Key[] = [];
      for (const id of uniqueIds) keys.push({ binding: 0, key: utf8(`[${id}]`) });
      uniqueRegions.forEach((region, i) => keys.push({ binding: 1, key: utf8(JSON.stringify([region, i])) }));
      // Keys that match nothing: absent ids, a null key element, a wrong pairing, whitespace, invalid UTF-8.
      keys.push({ binding: 0, key: utf8("[424242424242]") }, { binding: 0, key: utf8("[ 1 ]") }, { binding: 1, key: utf8("[null,1]") });
      keys.push({ binding: 1, key: utf8('["it\'s",0]') }, { binding: 1, key: new Uint8Array([0x5b, 0x22, 0xff, 0x22, 0x2c, 0x31, 0x5d]) });
      // Shuffled, so that chunks mix bindings.
      for (let i = keys.length - 1; i > 0; i--) {
        const j = r(i + 1);
        [keys[i], keys[j]] = [keys[j]!, keys[i]!];
      }

      const batched = await loadBatched(t, keys, r);
      expect(batched.batchesRead).toBe(true);
      const perRequest = await loadPerRequest(t, keys);
      expect(batched.found).toEqual(perRequest);
      // Every stored key was found once, plus "[ 1 ]", which is key 1 again.
      expect(batched.found.length).toBe(uniqueIds.length + uniqueRegions.length + 1);
      const want = [...stores.map((s) => `${s.binding}:${Buffer.from(s.docJson).toString("hex")}`), `0:${Buffer.from(stores[0]!.docJson).toString("hex")}`].sort();
      expect(batched.found).toEqual(want);
    } finally {
      await t.destroy!();
    }
  });

  it("finds the same rows when every chunk is bounded by its smallest and largest key (short integer keys only)", async () => {
    const schema = db.fresh();
    const spec = materialization("acme/mat", endpointConfig(schema), [widgetBinding()]);
    await connector.apply(applyRequest(spec), ctx());
    const { transactor: t } = await connector.open(openRequest(spec), ctx());
    try {
      const r = rng(7);
      const ids = [...new Set([0, -1, 1, 999_999_999_999_999, -999_999_999_999_999, ...Array.from({ length: 6000 }, () => r(2_000_000) - 1_000_000)])];
      const stored = ids.filter((_, i) => i % 3 !== 0);
      const stores = stored.map((id, i) => ({ ...w(0, `w${i}`), binding: 0, keyJson: `[${id}]`, docJson: `{"id":${id}}` }));
      for (let i = 0; i < stores.length; i += 2000) await transaction(t, { stores: stores.slice(i, i + 2000), checkpoint: checkpoint(1 + i) });
      // Every id, stored or not, plus absent ids beyond both ends; leading zeros and -0 are the same keys as 7 and 0.
      const keys: Key[] = [...ids, 5_000_000, -5_000_000].map((id) => ({ binding: 0, key: utf8(`[${id}]`) }));
      keys.push({ binding: 0, key: utf8("[007]") }, { binding: 0, key: utf8("[-0]") });
      for (let i = keys.length - 1; i > 0; i--) {
        const j = r(i + 1);
        [keys[i], keys[j]] = [keys[j]!, keys[i]!];
      }
      const batched = await loadBatched(t, keys, r);
      expect(batched.batchesRead).toBe(true);
      const doc = (id: number) => `0:${Buffer.from(`{"id":${id}}`).toString("hex")}`;
      const want = [...stored.map(doc), ...[7, 0].filter((id) => stored.includes(id)).map(doc)].sort();
      expect(batched.found).toEqual(want);
      expect(batched.found).toEqual(await loadPerRequest(t, keys));
    } finally {
      await t.destroy!();
    }
  });
});
