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

it("reads nothing beside the repository: no ../shared paths in code, tests or CI", () => {
  const files = git("ls-files", "src", "test", "connectors", ".ci").trim().split("\n").filter((f) => /\.(ts|mjs|js|sh)$|^\.ci\/run$/.test(f));
  expect(files.length).toBeGreaterThan(50);
  const outside = files.filter((f) => f !== "test/repository.test.ts" && /\.\.\/shared|["']\.\.["'],\s*["']shared["']/.test(readFileSync(join(root, f), "utf8")));
  expect(outside).toEqual([]);
});
