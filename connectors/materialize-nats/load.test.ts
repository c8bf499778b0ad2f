/**
 * Loads against the real server: the direct gets through the pipe answer
 * exactly what the KV client's get answers (present, deleted, purged,
 * soft-deleted, never written), for buckets that serve direct gets.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { RawJson } from "../../src/sdk/types.js";
import { loadDocuments, type LoadSource } from "./load.js";
import { RequestPipe } from "./pipe.js";
import type { BindingPlan } from "./records.js";
import { loadSource } from "./setup.js";
import { admin, dropNamespace, namespace, type Admin } from "./test-support.js";

let a: Admin;
let pipe: RequestPipe;
let src: LoadSource;
const ns = namespace();
const bucket = `${ns}_kv`;

beforeAll(async () => {
  a = await admin();
  pipe = new RequestPipe(a.nc);
  src = await loadSource(jetstream(a.nc), a.jsm, bucket);
  const kv: KV = src.kv;
  await kv.put("1", '{"id":1,"v":"one"}');
  await kv.put("2", '{"id":2}');
  await kv.delete("2");
  await kv.put("3", '{"id":3}');
  await kv.purge("3");
  await kv.put("4", '{"id":4,"_meta":{"op":"d"}}');
  await kv.put("=sYS5i", '{"id":"a.b"}');
});
afterAll(async () => {
  pipe?.close();
  await dropNamespace(a.jsm, ns);
  await a?.nc.close();
});

const plan = (softDelete: boolean): BindingPlan => ({ target: { kind: "kv", bucket }, format: "json", softDelete, keys: ["id"], values: [], document: "flow_document" });

async function load(source: LoadSource, softDelete: boolean, concurrency: number): Promise<Record<string, string>> {
  const keys = ["[1]", "[2]", "[3]", "[4]", "[5]", '["a.b"]'].map((keyJson) => ({ binding: 0, keyJson, keyPacked: new Uint8Array() }));
  const out: Record<string, string> = {};
  await loadDocuments([source], [plan(softDelete)], keys, (_b, doc) => {
    const text = (doc as RawJson).text;
    out[JSON.parse(text).id] = text;
  }, concurrency, pipe);
  return out;
}

describe("loadDocuments", { timeout: 30_000 }, () => {
  it("direct gets answer as the KV client does", async () => {
    expect(src.direct).toBe(`$JS.API.DIRECT.GET.KV_${bucket}.$KV.${bucket}.`);
    for (const soft of [false, true]) {
      for (const concurrency of [1, 2, 64]) {
        const direct = await load(src, soft, concurrency);
        expect(direct).toEqual(await load({ kv: src.kv, direct: undefined }, soft, concurrency));
        expect(Object.keys(direct).sort()).toEqual(soft ? ["1", "a.b"] : ["1", "4", "a.b"]);
      }
    }
  });
});
