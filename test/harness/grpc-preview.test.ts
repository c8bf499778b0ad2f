/**
 * Previews over gRPC: the harness drives a connector served by
 * `tributary serve` (a separate process) or by serveGrpc in this process,
 * instead of spawning it. Needs a build (`npx tsc -p .`).
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { runCapturePreview, runMaterializePreview } from "../../src/harness/index.js";
import { repoRoot } from "../../src/harness/catalog.js";
import { serveGrpc } from "../../src/transport/grpc.js";
import { createLogger } from "../../src/log.js";
import memoryMaterialize from "../support/memory-materialize/connector.js";
import { readStore } from "../support/memory-materialize/store.js";

const quiet = createLogger({ level: "error" });
const servers: ChildProcess[] = [];
afterAll(() => {
  for (const s of servers) s.kill("SIGKILL");
});

async function serveProcess(connector: string): Promise<string> {
  const child = spawn(process.execPath, [join(repoRoot(), "bin", "tributary"), "serve", connector, "--port", "0"], { stdio: ["ignore", "pipe", "ignore"] });
  servers.push(child);
  const rl = createInterface({ input: child.stdout! });
  for await (const line of rl) {
    const m = /^listening on (.+)$/.exec(line);
    if (m) return m[1]!;
  }
  throw new Error("tributary serve exited before listening");
}

describe("previews over gRPC", () => {
  it("captures from `tributary serve source-hello-world`, resuming across sessions", async () => {
    const address = await serveProcess("source-hello-world");
    const dir = mkdtempSync(join(tmpdir(), "harness-grpc-"));
    const catalog = join(dir, "flow.yaml");
    writeFileSync(
      catalog,
      `collections:
  acmeCo/greetings:
    schema: { type: object, properties: { count: { type: integer }, message: { type: string } }, required: [count, message] }
    key: [/count]
captures:
  acmeCo/hello:
    endpoint: { connector: { image: ghcr.io/estuary/source-hello-world:v1, config: { rate: 0, perCheckpoint: 3 } } }
    bindings: [ { resource: { name: greetings }, target: acmeCo/greetings } ]
`,
    );
    const res = await runCapturePreview({ catalog, grpcAddress: address, sessions: [2, 2], log: quiet });
    expect(res.stats.sessions).toBe(2);
    expect(res.stats.transactions).toBe(4);
    const counts = res.documents.map(([, d]) => (d as { count: number }).count);
    counts.forEach((c, i) => expect(c).toBe(i + 1));
    expect(res.state).toEqual({ bindingStateV1: { greetings: { count: counts.at(-1) } } });
  });

  it("materializes into a served memory-materialize; cancelled streams recover like crashes", async () => {
    const server = await serveGrpc(memoryMaterialize, { port: 0, log: quiet });
    try {
      const results: unknown[] = [];
      for (const crashAt of [undefined, { point: "after-started-commit" as const, txn: 2 }, { point: "mid-store" as const, txn: 3 }]) {
        const dir = mkdtempSync(join(tmpdir(), "harness-grpc-mat-"));
        const store = join(dir, "store.json");
        const catalog = join(dir, "flow.json");
        writeFileSync(
          catalog,
          JSON.stringify({
            collections: { "acmeCo/things": { schema: { type: "object", properties: { id: { type: "integer" }, v: { type: "string" } }, required: ["id"] }, key: ["/id"] } },
            materializations: {
              "acmeCo/memory": {
                endpoint: { local: { command: ["unused"], config: { path: store } } },
                bindings: [{ resource: { table: "things" }, source: "acmeCo/things" }],
              },
            },
          }),
        );
        const lines: string[] = [];
        for (let t = 0; t < 4; t++) {
          for (let i = 0; i < 10; i++) lines.push(JSON.stringify(["acmeCo/things", { id: (t * 7 + i) % 15, v: `t${t}i${i}` }]));
          lines.push('{"commit":true}');
        }
        const fixture = join(dir, "f.jsonl");
        writeFileSync(fixture, lines.join("\n") + "\n");
        const res = await runMaterializePreview({ catalog, fixture, grpcAddress: `127.0.0.1:${server.port}`, crashAt, recoveryLog: join(dir, "rl.json"), log: quiet });
        expect(res.stats.crashes).toBe(crashAt ? 1 : 0);
        const rows = readStore(store).tables.things!.rows;
        expect(Object.keys(rows).length).toBe(15);
        results.push(Object.fromEntries(Object.entries(rows).map(([k, r]) => [k, r.values])));
      }
      expect(results[1]).toEqual(results[0]);
      expect(results[2]).toEqual(results[0]);
    } finally {
      await server.close(0);
    }
  });
});
