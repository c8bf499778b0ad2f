/**
 * .ci/run's closing line (`tests: N passed, N failed`) from real vitest
 * reports: a test file that fails to load runs no test, yet must count as
 * a failure.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../conformance/vectors.js";

const probeDir = join(repoRoot, "test", "ci", "probe");
const work = mkdtempSync(join(tmpdir(), "tributary-ci-summary-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs the probe files under vitest with a JSON report, then the summary script on it. */
function summarize(env: Record<string, string>, name: string): { status: number; lines: string[] } {
  const report = join(work, `${name}.json`);
  const vitest = join(repoRoot, "node_modules", "vitest", "vitest.mjs");
  const run = spawnSync(
    process.execPath,
    [vitest, "run", "--config", join(probeDir, "vitest.config.ts"), "--root", probeDir, "--reporter=json", `--outputFile.json=${report}`],
    { cwd: probeDir, env: { ...process.env, ...env }, encoding: "utf8" },
  );
  const summary = spawnSync(process.execPath, [join(repoRoot, ".ci", "summary.mjs"), report, String(run.status)], { encoding: "utf8" });
  // The summary fails exactly when it counted a failure.
  expect(summary.status).toBe(/ [1-9]\d* failed$/.test(summary.stdout.trim()) ? 1 : 0);
  return { status: run.status ?? -1, lines: summary.stdout.trim().split("\n") };
}

describe(".ci/summary.mjs", () => {
  it("counts a test file that fails to load as a failure", () => {
    const r = summarize({ PROBE_UNLOADABLE: "1" }, "unloadable");
    expect(r.status).not.toBe(0);
    expect(r.lines.at(-1)).toBe("tests: 2 passed, 1 failed");
    expect(r.lines.join("\n")).toContain("unloadable.probe.ts");
  });

  it("counts failing tests, and only those, when every file loads", () => {
    expect(summarize({ PROBE_FAIL: "1" }, "failing").lines.at(-1)).toBe("tests: 2 passed, 1 failed");
    expect(summarize({}, "green").lines).toEqual(["tests: 3 passed, 0 failed"]);
  });

  it("reports a failure when the run left no report at all", () => {
    const r = spawnSync(process.execPath, [join(repoRoot, ".ci", "summary.mjs"), join(work, "missing.json"), "2"], { encoding: "utf8" });
    expect(r.stdout.trim().split("\n").at(-1)).toBe("tests: 0 passed, 1 failed");
  });

  it("adds the counts of a second run (the image checks), whose failure fails the line", () => {
    summarize({}, "first");
    summarize({ PROBE_FAIL: "1" }, "second");
    const both = spawnSync(process.execPath, [join(repoRoot, ".ci", "summary.mjs"), join(work, "first.json"), "0", join(work, "second.json"), "1"], { encoding: "utf8" });
    expect(both.stdout.trim().split("\n").at(-1)).toBe("tests: 5 passed, 1 failed");
    expect(both.status).toBe(1);
    const noImages = spawnSync(process.execPath, [join(repoRoot, ".ci", "summary.mjs"), join(work, "first.json"), "0", join(work, "never-written.json"), "2"], { encoding: "utf8" });
    expect(noImages.stdout.trim().split("\n").at(-1)).toBe("tests: 3 passed, 1 failed");
  });
});
