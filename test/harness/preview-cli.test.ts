/**
 * `tributary preview` as a command: a reader that goes away, options that
 * do not apply to the task, and a catalog that needs --name. Spawns
 * bin/tributary, so it needs a build (`npx tsc -p .`).
 */
import { describe, expect, it } from "vitest";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../src/harness/catalog.js";
import { eventually } from "../support/eventually.js";

const bin = join(repoRoot(), "bin", "tributary");

function catalog(): string {
  const dir = mkdtempSync(join(tmpdir(), "harness-cli-"));
  const path = join(dir, "flow.json");
  const memory = (table: string) => ({
    endpoint: { local: { command: ["node", "<repo>/dist/test/support/memory-materialize/main.js"], config: { path: join(dir, "store.json") } } },
    bindings: [{ resource: { table }, source: "acmeCo/greetings" }],
  });
  writeFileSync(
    path,
    JSON.stringify({
      collections: {
        "acmeCo/greetings": { schema: { type: "object", properties: { count: { type: "integer" }, message: { type: "string" } }, required: ["count", "message"] }, key: ["/count"] },
      },
      captures: {
        "acmeCo/hello": {
          endpoint: { connector: { image: "ghcr.io/estuary/source-hello-world:v1", config: { rate: 0, perCheckpoint: 10 } } },
          bindings: [{ resource: { name: "greetings" }, target: "acmeCo/greetings" }],
        },
      },
      materializations: { "acmeCo/mem-a": memory("a"), "acmeCo/mem-b": memory("b") },
    }),
  );
  return path;
}

function preview(args: string[]) {
  return spawnSync(process.execPath, [bin, "preview", ...args], { encoding: "utf8", env: { ...process.env, LOG_LEVEL: "warn" }, timeout: 60_000 });
}

function children(pid: number): number[] {
  try {
    return execFileSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" }).split("\n").map((l) => Number(l.trim())).filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there is none
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("tributary preview (command line)", () => {
  it("ends quietly, stopping the connector, when its reader goes away (preview | head -3)", async () => {
    const child = spawn(process.execPath, [bin, "preview", "--source", catalog(), "--name", "acmeCo/hello"], { env: { ...process.env, LOG_LEVEL: "warn" } });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
    // Read three lines, then close the pipe as `head -3` does.
    let text = "";
    await new Promise<void>((resolve) => {
      child.stdout.on("data", (d) => {
        text += d;
        if (text.split("\n").length > 3) resolve();
      });
    });
    let connectors: number[] = [];
    await eventually(() => (connectors = children(child.pid!)).length > 0, "the connector process");
    child.stdout.destroy();
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const { code, signal } = await exited;
    clearTimeout(timer);
    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(stderr).not.toMatch(/EPIPE/);
    // The connector was stopped with the preview, not left behind.
    await eventually(() => connectors.every((p) => !alive(p)), "the connector to be gone", 10_000);
  });

  it("refuses materialization-only options in a capture preview, naming them", () => {
    const cat = catalog();
    for (const [flag, value] of [["--crash-at", "mid-store"], ["--fixture", "x.jsonl"], ["--shards", "2"], ["--recovery-log", "/tmp/x"]] as const) {
      const r = preview(["--source", cat, "--name", "acmeCo/hello", flag, value]);
      expect(r.status, flag).toBe(1);
      expect(r.stderr).toContain(`${flag} applies to materializations only, and "acmeCo/hello" is a capture`);
    }
    const z = preview(["--source", cat, "--name", "acmeCo/hello", "--zombie"]);
    expect(z.stderr).toContain("--zombie applies to materializations only");
  });

  it("without --name, names every capture and materialization of the catalog", () => {
    const r = preview(["--source", catalog()]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/name the task with --name; .* has captures: acmeCo\/hello; materializations: acmeCo\/mem-a, acmeCo\/mem-b/);
  });
});
