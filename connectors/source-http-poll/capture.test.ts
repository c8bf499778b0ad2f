/**
 * source-http-poll against a real HTTP server (test-server.ts), driven by
 * the harness over gRPC to the connector served in this process (a
 * connector process takes seconds to start on a loaded machine), and once
 * through the `tributary preview` CLI spawning `tributary run
 * source-http-poll` (needs `npx tsc -p .`):
 * each pagination style read in full by a bounded preview that ends by
 * itself, incremental sweeps from the largest cursor value, polling until
 * stopped, retries of 503/429 honouring Retry-After, the rate limit, and
 * errors naming the resource and status without the secret.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { serveGrpc } from "../../src/transport/grpc.js";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { runCapturePreview } from "../../src/harness/index.js";
import { repoRoot } from "../../src/harness/catalog.js";
import { createLogger } from "../../src/log.js";
import { ItemServer } from "./test-server.js";
import { catalogFor, idsOf, reduced, resourceFor, STYLES } from "./testing.js";
import connector, { documentSchema } from "./connector.js";

const quiet = createLogger({ level: "error" });
const run = promisify(execFile);
const servers: ItemServer[] = [];
const serve = async (count: number) => {
  const s = await new ItemServer(`key-${Math.random().toString(36).slice(2)}`, count).start();
  servers.push(s);
  return s;
};
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});
let grpcAddress = "";
let closeGrpc: () => Promise<void>;
beforeAll(async () => {
  const server = await serveGrpc(connector, { port: 0, log: quiet });
  grpcAddress = `127.0.0.1:${server.port}`;
  closeGrpc = async () => {
    await server.close(0);
  };
});
afterAll(() => closeGrpc?.());
const preview = (catalog: string, extra: Partial<Parameters<typeof runCapturePreview>[0]> = {}) =>
  runCapturePreview({ catalog, grpcAddress, sessions: [-1], timeoutMs: 60_000, log: quiet, ...extra });

describe("source-http-poll", () => {
  it("discovers the configured resources with their key required, typed from the first page", async () => {
    const server = await serve(4);
    const config = {
      base_url: server.baseUrl, auth_header: "X-Api-Key", auth_value: server.apiKey, rate_limit: 0, timeout_seconds: 30, poll_interval_seconds: 60, bounded: false,
      resources: [resourceFor("cursor"), { ...resourceFor("link"), key: ["/id", "/v"] }],
    };
    const found = await connector.discover(config as never, { log: quiet, signal: new AbortController().signal });
    expect(found.map((b) => [b.recommendedName, b.key])).toEqual([["cursor", ["/id"]], ["link", ["/id", "/v"]]]);
    expect(found[0]!.resourceConfig).toMatchObject({ name: "cursor", path: "/cursor/items", records: "/data" });
    expect(found[0]!.documentSchema).toEqual({ type: "object", required: ["id"], properties: { id: { type: "integer" } } });
    expect(found[1]!.documentSchema).toEqual({ type: "object", required: ["id", "v"], properties: { id: { type: "integer" }, v: { type: "string" } } });
    expect(documentSchema(["/ref/id", "/ref/kind"], ["integer"])).toEqual({
      type: "object",
      required: ["ref"],
      properties: { ref: { type: "object", required: ["id", "kind"], properties: { id: { type: "integer" }, kind: { type: "string" } } } },
    });
    await expect(connector.discover({ ...config, auth_value: "nope" } as never, { log: quiet, signal: new AbortController().signal })).rejects.toThrow(/resource cursor: .* HTTP 401/);
  });

  it.each(STYLES)("reads every page of a %s-paginated listing once, with backfill markers, and a bounded preview ends by itself", async (style) => {
    const server = await serve(23);
    const res = await preview(catalogFor(server, [resourceFor(style)]));
    expect(res.stats.timedOut).toBe(false);
    expect(idsOf(res.documents)).toEqual(server.items.map((i) => i.id));
    expect(reduced(res.documents)).toEqual(server.items);
    expect([res.stats.backfillBegins, res.stats.backfillCompletes]).toEqual([1, 1]);
    expect(server.requests.every((r) => r.key === server.apiKey)).toBe(true);
    // 23 items in pages of 7 (cursor, link: 4 requests) or 5 (page: 5, the last short).
    expect(server.requests.length).toBe(style === "page" ? 5 : 4);
    expect((res.state as any).bindingStateV1[style]).toEqual({ counter: 0, backfilled: true });
  });

  it("reads a backfilled listing again only when the binding's backfill counter is bumped", async () => {
    const server = await serve(8);
    const first = await preview(catalogFor(server, [resourceFor("page")]));
    const requests = server.requests.length;
    const again = await preview(catalogFor(server, [resourceFor("page")]), { initialState: first.state });
    expect(again.stats.timedOut).toBe(false);
    expect(again.documents).toEqual([]);
    expect(server.requests.length).toBe(requests);
    server.touch(2);
    const bumped = await preview(catalogFor(server, [resourceFor("page")], {}, 1), { initialState: first.state });
    expect(reduced(bumped.documents)).toEqual(server.items);
    expect([bumped.stats.backfillBegins, bumped.stats.backfillCompletes]).toEqual([1, 1]);
  });

  it("sweeps an incremental resource from the largest cursor value seen, in every style", async () => {
    const server = await serve(12);
    const resources = STYLES.map((s) => resourceFor(s, true));
    const first = await preview(catalogFor(server, resources));
    for (const s of STYLES) expect(reduced(first.documents.filter(([c]) => c === `acmeCo/${s}`))).toEqual(server.items);
    const since = 1011;
    for (const s of STYLES) expect((first.state as any).bindingStateV1[s]).toEqual({ since });
    expect(server.requests.filter((r) => r.url.searchParams.has("since"))).toEqual([]);

    const changed = [server.touch(3), server.touch(40)];
    const second = await preview(catalogFor(server, resources), { initialState: first.state });
    expect(second.stats.timedOut).toBe(false);
    for (const s of STYLES) {
      // The sweep asks from the last value seen (inclusive), so item 12 (updated 1011) comes again, unchanged.
      expect(reduced(second.documents.filter(([c]) => c === `acmeCo/${s}`))).toEqual([changed[0], server.items[11], changed[1]].sort((a: any, b: any) => a.id - b.id));
      expect((second.state as any).bindingStateV1[s]).toEqual({ since: changed[1]!.updated });
    }
    expect(new Set(server.requests.filter((r) => r.url.searchParams.has("since")).map((r) => r.url.searchParams.get("since")))).toEqual(new Set([String(since)]));
  });

  it("polls until stopped when unbounded, capturing changes made while it runs", async () => {
    const server = await serve(10);
    let touched: { id: number; v: string } | undefined;
    const res = await preview(catalogFor(server, [resourceFor("cursor", true)], { bounded: false }), {
      onTransaction: (t) => {
        if (!touched && t.documents.length > 0) touched = server.touch(5);
        return !t.documents.some(([, d]) => (d as { v: string }).v === touched?.v);
      },
    });
    expect(res.stats.timedOut).toBe(true); // ended by onTransaction, not by the connector
    expect(reduced(res.documents)).toEqual(server.items);
  });

  it("retries 503 and 429 answers, waiting as Retry-After asks", async () => {
    const server = await serve(9);
    server.failures = [{ status: 503 }, { status: 429, retryAfter: "2" }];
    const res = await preview(catalogFor(server, [resourceFor("link")]));
    expect(idsOf(res.documents)).toEqual(server.items.map((i) => i.id));
    const [a, b, c] = server.requests;
    expect(b!.at - a!.at).toBeGreaterThanOrEqual(450);
    expect(c!.at - b!.at).toBeGreaterThanOrEqual(1950);
  });

  it("fails on a 401 or 404 naming the resource, request path and status, and never the secret", async () => {
    const server = await serve(3);
    const bad = catalogFor(server, [{ ...resourceFor("page"), params: { token: "sekrit-param" } }], { auth_value: "wrong-secret-value" });
    const err = await preview(bad).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/resource page: GET \/api\/page\/items answered HTTP 401 Unauthorized \(check auth_header and auth_value\)/);
    expect(err?.message).not.toMatch(/wrong-secret-value|sekrit-param/);
    await expect(preview(catalogFor(server, [{ name: "gone", path: "/nothing" }]))).rejects.toThrow(/resource gone: GET \/api\/nothing answered HTTP 404/);
  });

  it("never logs the auth value, even at trace level, through retries and failures", async () => {
    const lines: string[] = [];
    const logged = await serveGrpc(connector, { port: 0, log: createLogger({ level: "trace", write: (l) => lines.push(l) }) });
    try {
      const server = await serve(9);
      server.failures = [{ status: 503 }];
      const catalog = catalogFor(server, [resourceFor("cursor", true)]);
      const res = await preview(catalog, { grpcAddress: `127.0.0.1:${logged.port}` });
      expect(idsOf(res.documents)).toEqual(server.items.map((i) => i.id));
      await expect(preview(catalogFor(server, [resourceFor("cursor")], { auth_value: "Bearer wrong-secret" }), { grpcAddress: `127.0.0.1:${logged.port}` })).rejects.toThrow(/HTTP 401/);
      const text = lines.join("\n");
      expect(text).toMatch(/"auth_value":"<redacted>"/);
      expect(text).toMatch(/transient error, retrying.*HTTP 503/);
      expect(text).toMatch(/HTTP 401/);
      expect(text).not.toContain(server.apiKey);
      expect(text).not.toContain("wrong-secret");
    } finally {
      await logged.close(0);
    }
  });

  it("spaces requests by the rate limit", async () => {
    const server = await serve(30);
    await preview(catalogFor(server, [resourceFor("cursor"), resourceFor("link")], { rate_limit: 8 }));
    expect(server.requests.length).toBe(10);
    // 8 per second: the connector starts them 125 ms apart; arrival times jitter, so check the whole span.
    const at = server.requests.map((r) => r.at);
    expect(at.at(-1)! - at[0]!).toBeGreaterThanOrEqual(9 * 125 - 60);
  });

  it("`tributary preview` of a bounded capture exits by itself after reading everything", async () => {
    const server = await serve(17);
    const catalog = catalogFor(server, [resourceFor("page"), resourceFor("cursor", true)]);
    const { stdout } = await run(process.execPath, [join(repoRoot(), "bin", "tributary"), "preview", "--source", catalog], {
      env: { ...process.env, LOG_LEVEL: "warn" },
      timeout: 150_000,
    });
    const lines = stdout.trim().split("\n").map((l) => JSON.parse(l) as [string, { id: number }]);
    for (const c of ["acmeCo/page", "acmeCo/cursor"]) expect(lines.filter(([n]) => n === c).map(([, d]) => d.id)).toEqual(server.items.map((i) => i.id));
  }, 180_000);
});
