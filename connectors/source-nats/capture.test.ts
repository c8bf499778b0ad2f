/**
 * source-nats through the harness (`tributary run source-nats` spawned per
 * session, protobuf over stdio) against the shared NATS server, each test on
 * throwaway streams: payload kinds, discovery, bounded and tailing reads,
 * resuming after every transaction, and keys from headers or the payload.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCapturePreview } from "../../src/harness/index.js";
import { createLogger } from "../../src/log.js";
import connector from "./connector.js";
import { captureCatalog, natsConfig, testNats, type TestNats } from "./test-support.js";

const quiet = createLogger({ level: "error" });
let nats: TestNats;
beforeAll(async () => {
  nats = await testNats();
});
afterAll(async () => {
  await nats?.close();
});

const ctx = () => ({ log: quiet, signal: new AbortController().signal });
const seqs = (docs: [string, unknown][]) => docs.map(([, d]) => (d as any)._meta.seq as number);

describe("source-nats", () => {
  it("turns every kind of payload into a document with _meta (sequence, subject, timestamp, headers)", async () => {
    const s = await nats.stream("kinds");
    await nats.publish(`${s}.json`, '{"id": 1, "big": 12345678901234567890123, "nested": {"a": [1, 2]}}', { "X-One": "1", "X-Many": ["a", "b"] });
    await nats.publish(`${s}.json`, "{}");
    await nats.publish(`${s}.scalar`, "[1, 2, 3]");
    await nats.publish(`${s}.scalar`, "42");
    await nats.publish(`${s}.text`, "hello, not json");
    await nats.publish(`${s}.bin`, new Uint8Array([0xff, 0x00, 0xfe]));
    await nats.publish(`${s}.bin`, new Uint8Array([0x89, 0x50]), { "Content-Type": "image/png" });
    await nats.publish(`${s}.empty`, "");
    await nats.publish(`${s}.meta`, '{"_meta": "theirs", "k": 1}');
    const before = Date.now();
    const res = await runCapturePreview({ catalog: captureCatalog(natsConfig({ bounded: true }), [{ resource: { stream: s }, collection: "acmeCo/kinds" }]), timeoutMs: 30_000, log: quiet });
    expect(res.stats.timedOut).toBe(false);
    const docs = res.documents.map(([, d]) => d as any);
    expect(docs.map((d) => d._meta.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(docs[0]).toMatchObject({ id: 1, nested: { a: [1, 2] }, _meta: { stream: s, subject: `${s}.json`, headers: { "X-One": "1", "X-Many": ["a", "b"] } } });
    // Every digit of a number beyond a double's precision survives.
    expect(String(docs[0].big)).toBe("12345678901234567890123");
    expect(docs[0]._meta.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    expect(Math.abs(Date.parse(docs[0]._meta.timestamp) - before)).toBeLessThan(60_000);
    expect(Object.keys(docs[1])).toEqual(["_meta"]);
    expect(docs[1]._meta.headers).toBeUndefined();
    expect(docs[2].value).toEqual([1, 2, 3]);
    expect(docs[3].value).toBe(42);
    expect(docs[4]).toMatchObject({ data: Buffer.from("hello, not json").toString("base64"), contentType: "text/plain; charset=utf-8" });
    expect(docs[5]).toMatchObject({ data: "/wD+", contentType: "application/octet-stream" });
    expect(docs[6]).toMatchObject({ data: "iVA=", contentType: "image/png" });
    expect(docs[7]).toMatchObject({ data: "", contentType: "text/plain; charset=utf-8" });
    expect(docs[8]).toMatchObject({ k: 1, _meta: { seq: 9 } });
    expect(Object.values((res.state as any).bindingStateV1)).toEqual([{ seq: 9 }]);
  });

  it("discovers each stream with its subjects, keyed by sequence by default or by a header or payload pointer", async () => {
    const s = await nats.stream("disc");
    const found = await connector.discover(natsConfig() as any, ctx(), { name: "x" } as any);
    const mine = found.find((b) => (b.resourceConfig as any).stream === s)!;
    expect(mine).toMatchObject({ recommendedName: s, resourceConfig: { stream: s }, key: ["/_meta/seq"], isFallbackKey: true });
    expect(JSON.stringify(mine.documentSchema)).toContain(`${s}.>`);
    const byHeader = await connector.discover(natsConfig({ documentKey: { type: "header", header: "Nats-Msg-Id" } }) as any, ctx(), { name: "x" } as any);
    const h = byHeader.find((b) => (b.resourceConfig as any).stream === s)!;
    expect(h.key).toEqual(["/_meta/headers/Nats-Msg-Id"]);
    expect(h.isFallbackKey).toBeUndefined();
    expect((h.documentSchema as any).properties._meta.properties.headers.required).toEqual(["Nats-Msg-Id"]);
    const byPointer = await connector.discover(natsConfig({ documentKey: { type: "pointer", pointer: "/order/id" } }) as any, ctx(), { name: "x" } as any);
    const p = byPointer.find((b) => (b.resourceConfig as any).stream === s)!;
    expect(p.key).toEqual(["/order/id"]);
    // An empty stream: the key is typed string; with a message holding an integer there, integer.
    expect((p.documentSchema as any).properties.order).toMatchObject({ required: ["id"], properties: { id: { type: "string" } } });
    await nats.publish(`${s}.x`, '{"order": {"id": 42}}');
    const typed = (await connector.discover(natsConfig({ documentKey: { type: "pointer", pointer: "/order/id" } }) as any, ctx(), { name: "x" } as any)).find((b) => (b.resourceConfig as any).stream === s)!;
    expect((typed.documentSchema as any).properties.order.properties.id.type).toBe("integer");
    expect((p.documentSchema as any).required).toEqual(["_meta", "order"]);
  });

  it("resumes exactly after the last committed message across restarts after every transaction, while messages keep arriving", async () => {
    const s = await nats.stream("resume");
    for (let i = 1; i <= 20; i++) await nats.publish(`${s}.a`, JSON.stringify({ i }));
    let next = 21;
    const res = await runCapturePreview({
      catalog: captureCatalog(natsConfig({ advanced: { messagesPerCheckpoint: 3, idleWaitMs: 50 } }), [{ resource: { stream: s }, collection: "acmeCo/resume" }]),
      sessions: [1, 1, 2, 1, 3, -1],
      maxTxnDocs: 1,
      timeoutMs: 60_000,
      log: quiet,
      onTransaction: async (t) => {
        if (next <= 30) await nats.publish(`${s}.b`, JSON.stringify({ i: next++ }));
        return ((Object.values((t.state as any)?.bindingStateV1 ?? {})[0] as any)?.seq ?? 0) < 30;
      },
    });
    expect(res.stats.sessions).toBe(6);
    expect(seqs(res.documents)).toEqual(Array.from({ length: 30 }, (_, k) => k + 1));
    expect(res.documents.map(([, d]) => (d as any).i)).toEqual(Array.from({ length: 30 }, (_, k) => k + 1));
  });

  it("a bounded session stops at each stream's last message as of its start, and the next one reads on from there", async () => {
    const a = await nats.stream("bounded");
    const b = await nats.stream("bounded");
    for (let i = 0; i < 5; i++) await nats.publish(`${a}.x`, `{"n": ${i}}`);
    await nats.publish(`${b}.x`, "{}");
    const catalog = captureCatalog(natsConfig({ bounded: true, advanced: { messagesPerCheckpoint: 2 } }), [
      { resource: { stream: a }, collection: "acmeCo/a" },
      { resource: { stream: b }, collection: "acmeCo/b" },
    ]);
    let published = false;
    const first = await runCapturePreview({
      catalog,
      timeoutMs: 60_000,
      log: quiet,
      maxTxnDocs: 1,
      onTransaction: async () => {
        // Published after the session started: not part of its batch.
        if (!published) for (let i = 5; i < 8; i++) await nats.publish(`${a}.x`, `{"n": ${i}}`);
        published = true;
      },
    });
    expect(first.stats.timedOut).toBe(false);
    expect(first.documents.filter(([c]) => c === "acmeCo/a").map(([, d]) => (d as any).n)).toEqual([0, 1, 2, 3, 4]);
    expect(first.documents.filter(([c]) => c === "acmeCo/b")).toHaveLength(1);
    const second = await runCapturePreview({ catalog, initialState: first.state, timeoutMs: 60_000, log: quiet });
    expect(second.stats.timedOut).toBe(false);
    expect(second.documents.map(([, d]) => (d as any).n)).toEqual([5, 6, 7]);
    // Nothing new: a third bounded session ends at once with nothing.
    const third = await runCapturePreview({ catalog, initialState: second.state, timeoutMs: 60_000, log: quiet });
    expect(third.stats.timedOut).toBe(false);
    expect(third.documents).toEqual([]);
  });

  it("tails: messages published while the session runs arrive, filtered to the binding's subject", async () => {
    const s = await nats.stream("tail");
    await nats.publish(`${s}.keep`, '{"n": 0}');
    let n = 0;
    const res = await runCapturePreview({
      catalog: captureCatalog(natsConfig({ advanced: { idleWaitMs: 100 } }), [{ resource: { stream: s, subject: `${s}.keep` }, collection: "acmeCo/tail" }]),
      timeoutMs: 60_000,
      log: quiet,
      onTransaction: async (t) => {
        n += t.documents.length;
        if (n < 4) {
          await nats.publish(`${s}.drop`, `{"n": -1}`);
          await nats.publish(`${s}.keep`, `{"n": ${n}}`);
          return true;
        }
        return false;
      },
    });
    expect(res.documents.map(([, d]) => (d as any).n)).toEqual([0, 1, 2, 3]);
    expect(res.documents.every(([, d]) => (d as any)._meta.subject === `${s}.keep`)).toBe(true);
  });

  it("keys by a header, and fails naming the message's sequence when one lacks it", async () => {
    const s = await nats.stream("hkey");
    await nats.publish(`${s}.a`, '{"v": 1}', { "Order-Id": "o-1" });
    await nats.publish(`${s}.a`, '{"v": 2}', { "Order-Id": "o-2" });
    await nats.publish(`${s}.a`, '{"secret": "do-not-show"}');
    const config = natsConfig({ bounded: true, documentKey: { type: "header", header: "Order-Id" } });
    const [d] = (await connector.discover(config as any, ctx(), { name: "x" } as any)).filter((b) => (b.resourceConfig as any).stream === s);
    const catalog = captureCatalog(config, [{ resource: { stream: s }, collection: "acmeCo/hkey", key: d!.key, schema: d!.documentSchema as any }]);
    const err = await runCapturePreview({ catalog, timeoutMs: 30_000, log: quiet, maxTxnDocs: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain(`message 3 of stream ${s}`);
    expect(err.message).toContain("/_meta/headers/Order-Id");
    expect(err.message).not.toContain("do-not-show");
  });
});
