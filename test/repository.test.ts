/**
 * What a fresh clone needs: every file the project reads is in it, and git
 * ignores none of the tracked files (an ignore rule over a tracked file hides
 * a new one beside it from `git add`).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { repoRoot } from "../src/harness/catalog.js";

const root = repoRoot();
const git = (...args: string[]) => execFileSync("git", args, { cwd: root, encoding: "utf8" });

it("ignores no tracked file", () => {
  expect(git("ls-files", "--cached", "--ignored", "--exclude-standard").trim()).toBe("");
  expect(git("ls-files", "connectors/registry.ts").trim()).toBe("connectors/registry.ts");
});

// The team's sibling folder, which a user's clone does not have; spelled in
// parts so that this guard does not name the path it forbids.
const SIBLING = [".".repeat(2), "shared"];
const siblingPath = new RegExp(`${SIBLING.map((p) => p.replace(/\./g, "\\.")).join("/")}|["']\\.\\.["'],\\s*["']${SIBLING[1]}["']`);

it("reads nothing beside the repository: no paths into the team's sibling folder in code, tests or CI", () => {
  const files = git("ls-files", "src", "test", "connectors", ".ci").trim().split("\n").filter((f) => /\.(ts|mjs|js|sh)$|^\.ci\/run$/.test(f));
  expect(files.length).toBeGreaterThan(50);
  const outside = files.filter((f) => siblingPath.test(readFileSync(join(root, f), "utf8")));
  expect(outside).toEqual([]);
});
