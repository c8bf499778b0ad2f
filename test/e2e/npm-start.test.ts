/**
 * `npm start` as a user runs it: it builds, serves source-hello-world, and a
 * SIGTERM to npm (what a process manager or `kill` sends) stops the server
 * too, leaving nothing listening. The start script `exec`s the server so the
 * signal reaches it instead of a shell that would die and leave it behind.
 *
 * It runs in a scratch copy of the project (package.json, tsconfig.json and
 * bin/ copied, sources and node_modules linked) so its build writes a dist/
 * of its own, never the one other tests are running from.
 */
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import { afterAll, expect, it } from "vitest";
import { repoRoot } from "../../src/harness/catalog.js";
import { freePort } from "../support/free-port.js";

/** Resolves true if something accepts a TCP connection on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

const root = repoRoot();
const copy = mkdtempSync(join(tmpdir(), "tributary-npm-start-"));
afterAll(() => rmSync(copy, { recursive: true, force: true }));

function scratchProject() {
  cpSync(join(root, "package.json"), join(copy, "package.json"));
  cpSync(join(root, "bin"), join(copy, "bin"), { recursive: true });
  for (const dir of ["node_modules", "src", "connectors", "test"]) symlinkSync(join(root, dir), join(copy, dir));
  // The project's compiler options; only what the server needs is built.
  const tsconfig = JSON.parse(readFileSync(join(root, "tsconfig.json"), "utf8"));
  writeFileSync(join(copy, "tsconfig.json"), JSON.stringify({ ...tsconfig, include: ["src/**/*.ts", "connectors/**/*.ts"], exclude: ["node_modules", "dist", "**/*.test.ts"] }));
}

it("npm start serves on PORT and stops with npm on SIGTERM", { timeout: 240_000 }, async () => {
  scratchProject();
  const port = await freePort();
  const npm = spawn("npm", ["start"], { cwd: copy, env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  npm.stdout.on("data", (d) => (out += d));
  npm.stderr.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => npm.once("exit", (code) => resolve(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = () => out.includes(`listening on 127.0.0.1:${port}`) && resolve();
      npm.stdout.on("data", onData);
      npm.once("exit", () => reject(new Error(`npm start exited before serving:\n${out}`)));
    });
    expect(await listening(port)).toBe(true);
    npm.kill("SIGTERM");
    await exited;
    // The server went with npm: nothing accepts connections on its port any more.
    const deadline = Date.now() + 30_000;
    while ((await listening(port)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await listening(port)).toBe(false);
  } finally {
    // Its own process group: whatever npm left behind goes too.
    try {
      process.kill(-npm.pid!, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
});
