/**
 * Validate's checks with clear errors (a missing stream, a subject filter
 * outside the stream, a user who may not create consumers, refused
 * credentials), and what a capture says about messages the stream dropped
 * before they were captured (retention limits, deletions).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCapturePreview } from "../../src/harness/index.js";
import { createLogger } from "../../src/log.js";
import { startNatsServer, type NatsServer } from "../../test/support/nats-server.js";
import connector from "./connector.js";
import { captureCatalog, natsConfig, testNats, type TestNats } from "./test-support.js";

const quiet = createLogger({ level: "error" });
let nats: TestNats;
let restricted: NatsServer;
beforeAll(async () => {
  nats = await testNats();
  restricted = await startNatsServer(`accounts { A { jetstream: enabled, users: [
    { user: "admin", password: "admin-pw" },
    { user: "nocons", password: "nocons-pw", permissions: { publish: { deny: ["$JS.API.CONSUMER.>"] } } }
  ] } }`);
});
afterAll(async () => {
  await nats?.close();
  await restricted?.stop();
});

function validate(config: Record<string, unknown>, resources: Record<string, unknown>[]) {
  const bindings = resources.map((r) => ({ resourceConfig: r, resourcePath: [], collection: { key: ["/_meta/seq"] }, backfill: 0, stateKey: "" }));
  return connector.validate!({ name: "acmeCo/x", config, bindings } as any, { log: quiet, signal: new AbortController().signal });
}

describe("source-nats validate", () => {
  it("passes for an existing stream and a filter within its subjects", async () => {
    const s = await nats.stream("val");
    await expect(validate(natsConfig(), [{ stream: s }, { stream: s, subject: `${s}.orders.*` }])).resolves.toBeUndefined();
  });

  it("names the binding and stream that does not exist, and a filter that matches none of the stream's subjects", async () => {
    const s = await nats.stream("val");
    const missing = await validate(natsConfig(), [{ stream: s }, { stream: `${s}_gone` }]).catch((e) => e);
    expect(missing.message).toBe(`binding 1 (stream ${s}_gone): no stream of that name exists on the NATS server`);
    const outside = await validate(natsConfig(), [{ stream: s, subject: "elsewhere.>" }]).catch((e) => e);
    expect(outside.message).toContain(`subject filter elsewhere.> matches none of the stream's subjects (${s}.>)`);
  });

  it("says the user lacks permission when it may not create the consumer, and when credentials are refused", async () => {
    const admin = await testNats(restricted.url, { user: "admin", pass: "admin-pw" });
    try {
      const s = await admin.stream("perm");
      const ok = validate({ servers: restricted.url, auth: { type: "user_password", user: "admin", password: "admin-pw" } }, [{ stream: s }]);
      await expect(ok).resolves.toBeUndefined();
      const denied = await validate({ servers: restricted.url, auth: { type: "user_password", user: "nocons", password: "nocons-pw" } }, [{ stream: s }]).catch((e) => e);
      expect(denied.message).toContain(`binding 0 (stream ${s}): creating an ordered consumer to read it: the NATS user lacks permission`);
      expect(denied.message).not.toContain("nocons-pw");
      const refused = await validate({ servers: restricted.url, auth: { type: "user_password", user: "admin", password: "wrong-pw" } }, [{ stream: s }]).catch((e) => e);
      expect(refused.message).toMatch(/refused the credentials/);
    } finally {
      await admin.close();
    }
  });
});

describe("messages the stream dropped", () => {
  it("skips messages removed by retention or deleted before they were captured, saying which", async () => {
    const s = await nats.stream("gap", { max_msgs: 5 });
    for (let i = 1; i <= 3; i++) await nats.publish(`${s}.a`, `{"i": ${i}}`);
    const catalog = captureCatalog(natsConfig({ bounded: true }), [{ resource: { stream: s }, collection: "acmeCo/gap" }]);
    const first = await runCapturePreview({ catalog, timeoutMs: 60_000, log: quiet });
    expect(first.documents.map(([, d]) => (d as any).i)).toEqual([1, 2, 3]);
    // Seven more: the stream keeps only 6..10, so 4 and 5 are gone; then 8 is deleted.
    for (let i = 4; i <= 10; i++) await nats.publish(`${s}.a`, `{"i": ${i}}`);
    await nats.jsm.streams.deleteMessage(s, 8);
    const warnings: any[] = [];
    const log = createLogger({ level: "warn", write: (line) => warnings.push(JSON.parse(line)) });
    const second = await runCapturePreview({ catalog, initialState: first.state, timeoutMs: 60_000, log, logLevel: "warn" });
    expect(second.documents.map(([, d]) => (d as any).i)).toEqual([6, 7, 9, 10]);
    const skips = warnings.filter((w) => /skipped/.test(w.msg)).map((w) => [w.firstSkipped, w.lastSkipped, w.skipped]);
    expect(skips).toEqual([
      [4, 5, 2],
      [8, 8, 1],
    ]);
  });
});
