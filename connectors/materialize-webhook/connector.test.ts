/**
 * materialize-webhook through the SDK's session runner against a real HTTP
 * receiver (node:http): bodies, headers, signature, batching, retries and
 * Retry-After, failures, Validate and the health check.
 */
import { createHmac } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { ConstraintType } from "../../src/sdk/types.js";
import { createLogger } from "../../src/log.js";
import { runMaterializeSession } from "../../src/sdk/materialize.js";
import { RecordingSink, RequestFeed } from "../../test/support/sessions.js";
import { ack, flush, openReq, session, sinkSpec, startCommit, store, validateReq } from "../../test/support/sink-session.js";
import connector from "./connector.js";
import { retryAfterMs } from "../../src/net/retry-after.js";
import { jsonLines, Receiver } from "./test-support.js";
import type { EndpointConfig } from "./config.js";

const receivers: Receiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.stop();
});

async function receiver(dedup = true): Promise<Receiver> {
  const r = await new Receiver(dedup).start();
  receivers.push(r);
  return r;
}

const fastRetry = { max_attempts: 4, initial_backoff_ms: 10, max_backoff_ms: 50 };

/** Runs one transaction of `n` documents (ids 1..n) into binding 0 and ends the session. */
async function oneTransaction(config: EndpointConfig, n: number, bindings = 1) {
  const spec = sinkSpec(true, bindings, { config, resource: (i) => ({ path: `b${i}` }) });
  const s = session(connector);
  s.feed.push(openReq(spec), ack(), flush());
  for (let i = 1; i <= n; i++) s.feed.push(store(i, `v${i}`));
  s.feed.push(startCommit(1));
  s.feed.end();
  return s;
}

describe("materialize-webhook", () => {
  it("POSTs JSON arrays of at most batch_size documents with the key, signature, collection and extra headers", async () => {
    const r = await receiver();
    const s = await oneTransaction({ url: r.url, batch_size: 2, hmac_secret: "s3cret", headers: [{ name: "Authorization", value: "Bearer t0ken" }] }, 5);
    await s.done;
    expect(r.accepted.map((q) => q.path)).toEqual(["/hooks/b0", "/hooks/b0", "/hooks/b0"]);
    expect(r.accepted.map((q) => JSON.parse(q.body))).toEqual([
      [
        { id: 1, v: "v1" },
        { id: 2, v: "v2" },
      ],
      [
        { id: 3, v: "v3" },
        { id: 4, v: "v4" },
      ],
      [{ id: 5, v: "v5" }],
    ]);
    for (const [i, q] of r.accepted.entries()) {
      expect(q.headers["content-type"]).toBe("application/json");
      expect(q.headers["authorization"]).toBe("Bearer t0ken");
      expect(q.headers["x-tributary-collection"]).toBe("acme/c");
      expect(q.key).toMatch(new RegExp(`^[0-9a-f]{32}-0-${i}-[0-9a-f]{16}$`));
      expect(q.headers["x-tributary-signature"]).toBe(`sha256=${createHmac("sha256", "s3cret").update(q.body).digest("hex")}`);
    }
    expect(new Set(r.accepted.map((q) => q.key.split("-")[0])).size).toBe(1); // one epoch
  });

  it("writes JSON lines, and leaves out the signature without a secret", async () => {
    const r = await receiver();
    const s = await oneTransaction({ url: r.url, format: "json_lines" }, 3);
    await s.done;
    expect(r.accepted).toHaveLength(1);
    expect(r.accepted[0]!.headers["content-type"]).toBe("application/x-ndjson");
    expect(r.accepted[0]!.body).toBe('{"id":1,"v":"v1"}\n{"id":2,"v":"v2"}\n{"id":3,"v":"v3"}\n');
    expect(jsonLines(r.accepted[0]!.body)).toHaveLength(3);
    expect(r.accepted[0]!.headers["x-tributary-signature"]).toBeUndefined();
  });

  it("retries 503 and 429 with the same key and body, honouring Retry-After", async () => {
    const r = await receiver();
    r.failures.push({ status: 503 }, { status: 429, headers: { "Retry-After": "1" } });
    const started = Date.now();
    const s = await oneTransaction({ url: r.url, retry: fastRetry }, 2);
    await s.done;
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(r.seen.map((q) => q.key)).toEqual(Array(3).fill(r.accepted[0]!.key));
    expect(new Set(r.seen.map((q) => q.body)).size).toBe(1);
    expect(r.accepted).toHaveLength(1);
  });

  it("fails at once on a 4xx other than 429, naming the status and not the response or documents", async () => {
    const r = await receiver();
    r.failures.push({ status: 400 });
    const s = await oneTransaction({ url: `${r.url}?token=abc`, retry: fastRetry }, 1);
    const err = await s.done.then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/hooks\/b0 answered 400 Bad Request; only 2xx is accepted$/);
    expect(err?.message).not.toMatch(/token|receiver says no|v1/);
    expect(r.seen).toHaveLength(1);
  });

  it("gives up after max_attempts when the receiver is unreachable", async () => {
    const r = await receiver();
    const url = r.url;
    await r.stop();
    const s = await oneTransaction({ url, retry: fastRetry }, 1);
    await expect(s.done).rejects.toThrow(/POST http:\/\/127\.0\.0\.1:\d+\/hooks\/b0 failed: ECONNREFUSED \(4 attempts\)/);
  });

  it("validates every binding as delta updates, labelled at-least-once / exactly-once with a de-duplicating receiver, at its resolved URL", async () => {
    const s = session(connector);
    s.feed.push(validateReq(sinkSpec(false, 2, { config: { url: "http://example.test/in/?token=t" }, resource: (i) => ({ path: i ? "" : "orders" }) })));
    s.feed.end();
    await s.done;
    const b = s.sink.sent[0]!.validated!.bindings;
    expect(b.map((x) => [x.deltaUpdates, x.resourcePath])).toEqual([
      [true, ["http://example.test/in/orders"]],
      [true, ["http://example.test/in/"]],
    ]);
    expect(b[0]!.constraints.flow_document!.type).toBe(ConstraintType.LOCATION_REQUIRED);
    expect(b[0]!.constraints.flow_document!.reason).toMatch(/AT-LEAST-ONCE, and EXACTLY-ONCE for receivers that de-duplicate/);
    expect(b[0]!.constraints.id!.type).toBe(ConstraintType.LOCATION_REQUIRED);
  });

  it("keys batches of two bindings apart, and logs no secret even at debug level while retrying", async () => {
    const r = await receiver();
    r.failures.push({ status: 502 });
    const lines: string[] = [];
    const log = createLogger({ level: "debug", write: (l) => lines.push(l) });
    const config = { url: `${r.url}?token=q5ecret`, hmac_secret: "h5ecret", headers: [{ name: "Authorization", value: "Bearer a5ecret" }], retry: fastRetry };
    const spec = sinkSpec(true, 2, { config, resource: (i) => ({ path: `b${i}` }) });
    const feed = new RequestFeed<any>();
    const done = runMaterializeSession(connector, feed, new RecordingSink<any>(), { log });
    feed.push(openReq(spec), ack(), flush(), store(1, "a"), store(2, "b", 1), startCommit(1));
    feed.end();
    await done;
    expect(r.accepted.map((q) => [q.path, q.key.split("-").slice(1, 3).join("-")])).toEqual([
      ["/hooks/b0?token=q5ecret", "0-0"],
      ["/hooks/b1?token=q5ecret", "1-0"],
    ]);
    const text = lines.join("\n");
    expect(text).toMatch(/webhook request failed, retrying/);
    expect(text).not.toMatch(/5ecret/);
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterMs("3", now)).toBe(3000);
    expect(retryAfterMs("Thu, 01 Jan 2026 00:00:02 GMT", now)).toBe(2000);
    expect(retryAfterMs("Wed, 31 Dec 2025 00:00:00 GMT", now)).toBe(0);
    expect(retryAfterMs("soon", now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });

  it("refuses a URL with user information and a header the connector sets", async () => {
    for (const [config, msg] of [
      [{ url: "http://u:p@example.test/" }, /must not hold a user or password/],
      [{ url: "http://example.test/", headers: [{ name: "Idempotency-Key", value: "x" }] }, /header "Idempotency-Key" is set by the connector/],
    ] as const) {
      const s = session(connector);
      s.feed.push(validateReq(sinkSpec(true, 1, { config, resource: () => ({ path: "" }) })));
      s.feed.end();
      await expect(s.done).rejects.toThrow(msg);
    }
  });

  it("health check: healthy when the receiver answers, unavailable when it cannot be reached", async () => {
    const r = await receiver();
    const ctx = { log: createLogger({ level: "error" }), signal: new AbortController().signal };
    await expect(connector.healthCheck!({ url: r.url }, ctx)).resolves.toBeUndefined();
    await r.stop();
    await expect(connector.healthCheck!({ url: r.url }, ctx)).rejects.toThrow(/is unreachable: ECONNREFUSED/);
  });
});
