/**
 * Every `tributary preview` ends: after a zombie check that passes (a
 * recovery-log connector, materialize-redis, fenced by the runtime) and one
 * that fails (a connector that does not fence), the process exits on its
 * own, with every connector stopped. Spawns bin/tributary (needs a build)
 * and uses the local Redis server (REDIS_URL).
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../src/harness/catalog.js";
import { dropNamespace, namespace, redis, REDIS_URL } from "../../connectors/materialize-redis/test-support.js";

const root = repoRoot();
const bin = join(root, "bin", "tributary");
const FIXTURE = join(root, "test/harness/fixtures/things.jsonl");
const r = redis();
const used: string[] = [];
afterAll(async () => {
  for (const n of used) await dropNamespace(r, n);
  r.disconnect();
});

const SCHEMA = {
  type: "object",
  reduce: { strategy: "merge" },
  properties: { id: { type: "integer" }, name: { type: "string" }, n: { type: "integer", reduce: { strategy: "sum" } }, _meta: { type: "object", properties: { op: { type: "string" } } } },
  required: ["id"],
};

function catalog(endpoint: unknown, resource: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "harness-exit-"));
  const path = join(dir, "flow.json");
  writeFileSync(
    path,
    JSON.stringify({
      collections: { "acmeCo/things": { schema: SCHEMA, key: ["/id"] } },
      materializations: { "acmeCo/m": { endpoint, bindings: [{ resource, source: "acmeCo/things" }] } },
    }),
  );
  return path;
}

/** Runs the CLI; SIGKILLs it (and reports `hung`) if it has not exited after `ms`. */
function cli(args: string[], ms = 60_000): Promise<{ code: number | null; hung: boolean; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, LOG_LEVEL: "warn" }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill("SIGKILL");
  }, ms);
  return new Promise((resolve) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, hung, stdout, stderr });
    }),
  );
}

describe("every preview ends", () => {
  it("--zombie with materialize-redis: the runtime fences the superseded session, the sums are right, and the process exits", async () => {
    const ns = namespace();
    used.push(ns);
    const path = catalog(
      { connector: { image: "ghcr.io/tributary-dev/materialize-redis:dev", config: { address: REDIS_URL, advanced: { internal_prefix: `${ns}:internal` } } } },
      { prefix: `${ns}:json` },
    );
    const res = await cli(["preview", "--source", path, "--fixture", FIXTURE, "--zombie"]);
    expect(res.hung, res.stderr).toBe(false);
    expect(res.code, res.stderr).toBe(0);
    const shard = JSON.parse(res.stdout.trim()).shards[0];
    expect(shard.zombie).toMatchObject({ fenced: true, by: "recovery-log" });
    // The zombie's transaction was never applied: 1 + 10 + 100, not more.
    expect(JSON.parse((await r.get(`${ns}:json:1`))!)).toMatchObject({ n: 111 });
    expect(JSON.parse((await r.get(`${ns}:json:3`))!)).toMatchObject({ n: 33 });
  });

  it("--zombie with a connector that does not fence: the run fails and the process still exits", async () => {
    const dir = mkdtempSync(join(tmpdir(), "harness-exit-"));
    const path = catalog({ local: { command: ["node", "<repo>/dist/test/support/memory-materialize/main.js"], config: { path: join(dir, "store.json"), noFence: true } } }, { table: "t" });
    const res = await cli(["preview", "--source", path, "--fixture", FIXTURE, "--zombie"]);
    expect(res.hung, res.stderr).toBe(false);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/the connector does not fence off superseded sessions/);
  });

  it("a failing shard stops the others, reading from a pipe that never ends", async () => {
    const dir = mkdtempSync(join(tmpdir(), "harness-exit-"));
    const path = catalog({ local: { command: ["node", "<repo>/dist/test/support/memory-materialize/main.js"], config: { path: join(dir, "store.json"), noFence: true } } }, { table: "t" });
    // stdin stays open (a pipe that never ends): two shards, one fails its zombie check.
    const child = spawn(process.execPath, [bin, "preview", "--source", path, "--zombie", "--shards", "2"], { env: { ...process.env, LOG_LEVEL: "warn" } });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.stdin.write('["acmeCo/things", {"id": 1, "n": 1}]\n["acmeCo/things", {"id": 2, "n": 1}]\n{"commit": true}\n["acmeCo/things", {"id": 1, "n": 1}]\n["acmeCo/things", {"id": 2, "n": 1}]\n{"commit": true}\n');
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill("SIGKILL");
    }, 180_000);
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    clearTimeout(timer);
    expect(hung, stderr).toBe(false);
    expect(code).toBe(1);
    expect(stderr).toMatch(/does not fence off superseded sessions/);
  });
});
