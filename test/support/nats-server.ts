/**
 * A throwaway nats-server for tests that need settings the shared server on
 * :4222 does not have (authentication, TLS): its own config file, a free
 * port, JetStream in a temp dir, stopped and removed afterwards.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.js";

export interface NatsServer {
  port: number;
  url: string;
  dir: string;
  stop(): Promise<void>;
}

/** The shared server's URL (NATS_URL overrides). */
export const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

/** Starts nats-server with `conf` (config-file text; `port`, `listen` and `jetstream` are added). */
export async function startNatsServer(conf = "", opts: { jetstream?: boolean } = {}): Promise<NatsServer> {
  const dir = await mkdtemp(join(tmpdir(), "tributary-nats-"));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const file = join(dir, "server.conf");
    const js = opts.jetstream === false ? "" : `jetstream { store_dir: "${join(dir, "js")}" }\n`;
    await writeFile(file, `listen: "127.0.0.1:${port}"\n${js}${conf}\n`);
    const child: ChildProcess = spawn("nats-server", ["-c", file], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    child.stderr!.on("data", (b) => (log += b));
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 30_000);
      const check = () => {
        if (/Server is ready/.test(log)) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      child.stderr!.on("data", check);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (!ready) {
      child.kill("SIGKILL");
      if (attempt < 2 && /address already in use/i.test(log)) continue;
      await rm(dir, { recursive: true, force: true });
      throw new Error(`nats-server did not start: ${log.slice(-2000)}`);
    }
    return {
      port,
      url: `nats://127.0.0.1:${port}`,
      dir,
      async stop() {
        if (child.exitCode === null) {
          const exited = new Promise((r) => child.once("exit", r));
          child.kill("SIGTERM");
          await exited;
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}
