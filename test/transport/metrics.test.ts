/**
 * `tributary serve --metrics-port`: a known materialization run over gRPC,
 * then a scrape of /metrics shows its counts. The connector is served by
 * module path (test/support/memory-materialize), so this needs a build.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { runMaterializePreview } from "../../src/harness/index.js";
import { repoRoot } from "../../src/harness/catalog.js";
import { createLogger } from "../../src/log.js";
import { ConnectorError, ProtocolError } from "../../src/sdk/errors.js";
import { errorKind } from "../../src/transport/metrics.js";
import { create } from "@bufbuild/protobuf";
import * as cap from "../../src/gen/capture/capture_pb.js";
import { ConnectorProcess, TRIBUTARY } from "../support/process.js";

const quiet = createLogger({ level: "error" });
const servers: ChildProcess[] = [];
afterAll(() => {
  for (const s of servers) s.kill("SIGKILL");
});

async function serveWithMetrics(module: string): Promise<{ grpc: string; metrics: string }> {
  const args = [join(repoRoot(), "bin", "tributary"), "serve", module, "--port", "0", "--metrics-port", "0"];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "ignore"] });
  servers.push(child);
  let metrics = "";
  for await (const line of createInterface({ input: child.stdout! })) {
    const m = /^metrics on (\S+)$/.exec(line);
    if (m) metrics = m[1]!;
    const l = /^listening on (.+)$/.exec(line);
    if (l) return { grpc: l[1]!, metrics };
  }
  throw new Error("tributary serve exited before listening");
}

/** The value of one sample of the exposition text, e.g. sample(text, 'tributary_documents_total{binding="0",direction="stored"'). */
function sample(text: string, prefix: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("serve --metrics-port", () => {
  it("exposes the counts of a known run", async () => {
    const { grpc, metrics } = await serveWithMetrics(join(repoRoot(), "dist", "test", "support", "memory-materialize", "connector.js"));
    expect(metrics).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const dir = mkdtempSync(join(tmpdir(), "metrics-"));
    const catalog = join(dir, "flow.json");
    writeFileSync(
      catalog,
      JSON.stringify({
        collections: { "acmeCo/things": { schema: { type: "object", properties: { id: { type: "integer" }, v: { type: "string" } }, required: ["id"] }, key: ["/id"] } },
        materializations: {
          "acmeCo/memory": {
            endpoint: { local: { command: ["unused"], config: { path: join(dir, "store.json") } } },
            bindings: [{ resource: { table: "things" }, source: "acmeCo/things" }],
          },
        },
      }),
    );
    const c = "acmeCo/things";
    const res = await runMaterializePreview({
      catalog,
      grpcAddress: grpc,
      log: quiet,
      fixture: [
        [[c, { id: 1, v: "a" }], [c, { id: 2, v: "b" }]],
        [[c, { id: 1, v: "c" }], [c, { id: 3, v: "d" }], [c, { id: 4, v: "e" }]],
      ],
    });
    expect(res.stats).toMatchObject({ transactions: 2, stores: 5, loaded: 1 });

    const scrape = await fetch(metrics);
    expect(scrape.status).toBe(200);
    const text = await scrape.text();
    const label = 'connector="memory-materialize"';
    expect(sample(text, `tributary_documents_total{binding="0",direction="stored",${label}}`)).toBe(5);
    expect(sample(text, `tributary_documents_total{binding="0",direction="loaded",${label}}`)).toBe(1);
    expect(sample(text, `tributary_document_bytes_total{binding="0",direction="stored",${label}}`)).toBeGreaterThan(5 * 20);
    expect(sample(text, `tributary_transaction_seconds_count{${label}}`)).toBe(2);
    expect(sample(text, `tributary_commit_seconds_count{${label}}`)).toBe(2);
    // Every stream of the preview (Spec, Validate, Apply, the session) has ended.
    expect(sample(text, `tributary_open_sessions{${label}}`)).toBe(0);
    expect(sample(text, "tributary_session_errors_total{")).toBeUndefined();

    expect((await fetch(metrics.replace("/metrics", "/other"))).status).toBe(404);
  });

  it("logs the same counters in stdio mode when a session ends", async () => {
    const p = new ConnectorProcess(["node", TRIBUTARY, "run", "source-hello-world"], "json", cap.RequestSchema, cap.ResponseSchema);
    p.send(
      create(cap.RequestSchema, {
        open: {
          capture: {
            name: "acme/hello",
            configJson: new TextEncoder().encode('{"rate":0,"perCheckpoint":3}'),
            bindings: [{ resourceConfigJson: new TextEncoder().encode('{"name":"greetings"}'), resourcePath: ["greetings"], stateKey: "greetings", collection: { name: "acme/greetings", key: ["/count"] } }],
          },
          range: { keyBegin: 0, keyEnd: 0xffffffff, rClockBegin: 0, rClockEnd: 0xffffffff },
          stateJson: "{}",
        },
      } as never),
    );
    await p.until((rs) => rs.filter((r) => r.checkpoint).length >= 3);
    p.close();
    expect(await p.exited).toBe(0);
    const lines = p.stderr.trim().split("\n").map((l) => JSON.parse(l) as { msg: string; documents?: Record<string, number>; bytes?: Record<string, number>; transactions?: number });
    const last = lines.filter((l) => l.msg === "metrics").at(-1)!;
    const captured = p.received.filter((r) => r.captured);
    expect(last.documents).toEqual({ "captured/0": captured.length });
    expect(last.bytes!["captured/0"]).toBe(captured.reduce((n, r) => n + Buffer.byteLength(r.captured!.docJson), 0));
    expect(last.transactions).toBe(p.received.filter((r) => r.checkpoint).length);
  });

  it("logs the counters periodically in stdio mode while a session runs", async () => {
    const p = new ConnectorProcess(["node", TRIBUTARY, "run", "source-hello-world"], "json", cap.RequestSchema, cap.ResponseSchema, { TRIBUTARY_METRICS_INTERVAL: "0.2" });
    p.send(
      create(cap.RequestSchema, {
        open: {
          capture: {
            name: "acme/hello",
            configJson: new TextEncoder().encode('{"rate":20,"perCheckpoint":1}'),
            bindings: [{ resourceConfigJson: new TextEncoder().encode('{"name":"greetings"}'), resourcePath: ["greetings"], stateKey: "greetings", collection: { name: "acme/greetings", key: ["/count"] } }],
          },
          range: { keyBegin: 0, keyEnd: 0xffffffff, rClockBegin: 0, rClockEnd: 0xffffffff },
          stateJson: "{}",
        },
      } as never),
    );
    type Line = { msg: string; level: string; documents?: Record<string, number>; openSessions?: number };
    const metricLines = () =>
      p.stderr
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Line)
        .filter((l) => l.msg === "metrics");
    // Two lines with growing counts, while the session is still open.
    await p.until(() => {
      const counts = metricLines().map((l) => l.documents?.["captured/0"] ?? 0);
      return counts.length >= 2 && counts.at(-1)! > counts[0]!;
    }, 180_000);
    const lines = metricLines();
    expect(lines.every((l) => l.level === "info")).toBe(true);
    expect(lines.at(-1)!.openSessions).toBe(1);
    p.close();
    expect(await p.exited).toBe(0);
  });

  it("labels failures by kind", () => {
    expect(errorKind(new ProtocolError("x"))).toBe("protocol");
    expect(errorKind(new ConnectorError("x"))).toBe("connector");
    expect(errorKind(new ConnectorError("x", { condition: "unavailable" }))).toBe("unavailable");
    expect(errorKind(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).toBe("unavailable");
    expect(errorKind(new TypeError("bug"))).toBe("internal");
  });
});
