/**
 * The external workflow end to end: `npm pack` this package, scaffold a
 * capture and a materialization project with `tributary new` in an empty
 * folder outside the repository, install tributary from the tarball (one
 * install, shared by both projects), then run each project's `npm test` and
 * a `tributary preview` of it. Needs dist/ built (npm run build).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, "../..");
const bin = join(repo, "bin", "tributary");
const MINUTES = 60_000;

async function sh(cmd: string, args: string[], cwd: string) {
  try {
    return await run(cmd, args, { cwd, maxBuffer: 64 << 20, env: { ...process.env, LOG_LEVEL: "warn", NO_COLOR: "1", npm_config_update_notifier: "false" } });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed in ${cwd}: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
}

describe("a connector project outside the repository", () => {
  const root = mkdtempSync(join(tmpdir(), "tributary-new-"));
  const cap = join(root, "source-acme");
  const mat = join(root, "materialize-acme");
  let tarball = "";

  beforeAll(async () => {
    // --ignore-scripts: the suite's build is done; prepack would rebuild the
    // shared dist/ while other test files run bin/tributary from it.
    const { stdout } = await sh("npm", ["pack", "--silent", "--ignore-scripts", "--pack-destination", root], repo);
    tarball = join(root, stdout.trim().split("\n").pop()!);
    await sh(process.execPath, [bin, "new", "source-acme", "--capture", "--dir", cap, "--tributary", `file:${tarball}`], root);
    await sh(process.execPath, [bin, "new", "materialize-acme", "--materialize", "--dir", mat, "--tributary", `file:${tarball}`], root);
    await sh("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], cap);
    // Both projects have the same dependencies: install once.
    symlinkSync(join(cap, "node_modules"), join(mat, "node_modules"), "dir");
  }, 10 * MINUTES);

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("scaffolds what a project needs", () => {
    for (const f of ["package.json", "tsconfig.json", "src/connector.ts", "test/connector.test.ts", "flow.yaml", "Dockerfile", "README.md"]) {
      expect(existsSync(join(cap, f)), f).toBe(true);
    }
    expect(existsSync(join(mat, "fixture.jsonl"))).toBe(true);
    const pkg = JSON.parse(readFileSync(join(cap, "package.json"), "utf8"));
    expect(pkg.dependencies.tributary).toBe(`file:${tarball}`);
    expect(pkg.scripts.dev).toMatch(/tsc .*--watch/);
    const docker = readFileSync(join(mat, "Dockerfile"), "utf8");
    expect(docker).toMatch(/^FROM node:20/m);
    expect(docker).toContain("LABEL FLOW_RUNTIME_PROTOCOL=materialize");
    expect(docker).toContain("LABEL FLOW_RUNTIME_CODEC=proto");
    expect(docker).toContain('ENTRYPOINT ["tributary", "run", "/app/dist/connector.js"]');
    // Installed from the tarball, not linked to this checkout.
    expect(readFileSync(join(cap, "node_modules", "tributary", "package.json"), "utf8")).toContain('"./testing"');
  });

  it("passes its own tests (capture, with a restart)", async () => {
    const { stdout } = await sh("npm", ["test"], cap);
    expect(stdout).toMatch(/Tests\s+2 passed/);
  }, 5 * MINUTES);

  it("passes its own tests (materialization, with a crash)", async () => {
    const { stdout } = await sh("npm", ["test"], mat);
    expect(stdout).toMatch(/Tests\s+2 passed/);
  }, 5 * MINUTES);

  it("previews the capture from its catalog", async () => {
    await sh("npx", ["tsc", "-p", "tsconfig.json"], cap);
    const { stdout } = await sh("npx", ["tributary", "preview", "--source", "flow.yaml"], cap);
    const docs = stdout.trim().split("\n").map((l) => JSON.parse(l) as [string, { id: number }]);
    expect(docs.map(([c, d]) => `${c}#${d.id}`)).toEqual(Array.from({ length: 10 }, (_, i) => `acmeCo/acme/events#${i + 1}`));
  }, 5 * MINUTES);

  it("previews the materialization from its catalog and fixture", async () => {
    await sh("npx", ["tsc", "-p", "tsconfig.json"], mat);
    const { stdout } = await sh("npx", ["tributary", "preview", "--source", "flow.yaml", "--fixture", "fixture.jsonl"], mat);
    const summary = JSON.parse(stdout.trim().split("\n").pop()!);
    expect(summary.applied).toBe("created table things");
    expect(summary.stats).toMatchObject({ transactions: 2, stores: 4 });
    const dest = JSON.parse(readFileSync(join(mat, "destination.json"), "utf8"));
    expect(Object.keys(dest.tables.things)).toEqual(["[1]", "[2]", "[3]"]);
  }, 5 * MINUTES);
});
