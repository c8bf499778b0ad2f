/**
 * `npm start` as a user runs it: it builds, serves source-hello-world, and a
 * SIGTERM to npm (what a process manager or `kill` sends) stops the server
 * too, leaving nothing listening. The start script `exec`s the server so the
 * signal reaches it instead of a shell that would die and leave it behind.
 */
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { expect, it } from "vitest";
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

it("npm start serves on PORT and stops with npm on SIGTERM", { timeout: 240_000 }, async () => {
  const port = await freePort();
  const npm = spawn("npm", ["start"], { cwd: repoRoot(), env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "pipe", "pipe"], detached: true });
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
