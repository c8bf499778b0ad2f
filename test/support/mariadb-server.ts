/**
 * A throwaway MariaDB server for tests that read the binlog.
 *
 * The shared server on :3306 is not ours to reconfigure (binlog settings
 * need a restart), so each test file installs a fresh data directory in a
 * temp dir and runs its own mariadbd on a free port with row-based binary
 * logging, the socket beside the data, and stops it afterwards.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm, chown } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import mysql from "mysql2/promise";
import { freePort } from "./free-port.js";

const run = promisify(execFile);

export interface MariaDbServer {
  host: string;
  port: number;
  user: string;
  serverId: number;
  dataDir: string;
  /** Runs SQL (several statements allowed) and returns the rows of the last. */
  query<T = any>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Creates (or re-creates) a database. */
  createDatabase(name: string): Promise<void>;
  /** Stops the server (fast shutdown) and starts it again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** `args`: extra server options, e.g. ["--binlog-row-metadata=FULL"]. */
export async function startMariaDb(opts: { args?: string[]; serverId?: number } = {}): Promise<MariaDbServer> {
  const dir = await mkdtemp(join(tmpdir(), "tributary-mariadb-"));
  const dataDir = join(dir, "data");
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await chown(dir, 0, 0);
  // Each server keeps its temporary files beside its data: bootstraps running at once in the shared /tmp
  // have been seen to collide on a temporary table ("Unknown table 'mysql.tmp_user_sys'").
  const tmp = join(dir, "tmp");
  await mkdir(tmp);
  await run("mariadb-install-db", ["--no-defaults", `--datadir=${dataDir}`, `--tmpdir=${tmp}`, "--auth-root-authentication-method=normal", "--skip-test-db", ...(asRoot ? ["--user=root"] : [])], {
    maxBuffer: 16 << 20,
  });
  let port = await freePort();
  const serverId = opts.serverId ?? 1;
  const argsFor = (port: number) => [
    "--no-defaults",
    `--datadir=${dataDir}`,
    `--tmpdir=${tmp}`,
    `--socket=${join(dir, "mysqld.sock")}`,
    `--pid-file=${join(dir, "mysqld.pid")}`,
    "--bind-address=127.0.0.1",
    `--port=${port}`,
    `--log-bin=${join(dataDir, "binlog")}`,
    "--binlog-format=ROW",
    "--binlog-row-image=FULL",
    "--binlog-row-metadata=FULL",
    `--server-id=${serverId}`,
    "--innodb-flush-log-at-trx-commit=2",
    "--sync-binlog=0",
    "--innodb-buffer-pool-size=32M",
    "--skip-name-resolve",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_general_ci",
    // The Go connector's tests run in a non-UTC zone to catch shifted timestamps; so do we.
    "--default-time-zone=-07:00",
    ...(asRoot ? ["--user=root"] : []),
    ...(opts.args ?? []),
  ];
  let child: ChildProcess | null = null;
  let log = "";
  const start = async (mayMove = false): Promise<void> => {
    log = "";
    child = spawn("mariadbd", argsFor(port), { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr!.on("data", (b) => (log += b));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) {
        // Another process may take the free port before mariadbd binds it; a first start may move.
        if (mayMove && /Bind on TCP\/IP port|Address already in use/i.test(log)) {
          port = await freePort();
          return start(false);
        }
        throw new Error(`mariadbd exited (${child.exitCode}): ${log.slice(-2000)}`);
      }
      try {
        const c = await mysql.createConnection({ host: "127.0.0.1", port, user: "root" });
        const [[row]] = (await c.query("SELECT @@datadir AS d").finally(() => c.end())) as any;
        // Whoever took the port first answers it: make sure it is our server.
        if (String(row.d).replace(/\/$/, "") === dataDir) return;
        throw new Error("another server answers on the port");
      } catch {
        if (Date.now() > deadline) throw new Error(`mariadbd did not accept connections within 60s: ${log.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const stopServer = async (signal: NodeJS.Signals) => {
    const c = child as ChildProcess | null;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill(signal);
    await exited;
  };
  await start(true);

  const query = async <T,>(sql: string, params?: unknown[]): Promise<T[]> => {
    const c = await mysql.createConnection({ host: "127.0.0.1", port, user: "root", multipleStatements: true, supportBigNumbers: true, bigNumberStrings: true });
    try {
      const [res] = await c.query(sql, params);
      if (Array.isArray(res) && res.length > 0 && Array.isArray(res[res.length - 1])) return res[res.length - 1] as T[];
      return (Array.isArray(res) ? res : []) as T[];
    } finally {
      await c.end();
    }
  };
  return {
    host: "127.0.0.1",
    port,
    user: "root",
    serverId,
    dataDir,
    query,
    createDatabase: async (name) => {
      await query(`DROP DATABASE IF EXISTS \`${name}\`; CREATE DATABASE \`${name}\``);
    },
    restart: async () => {
      await stopServer("SIGTERM");
      await start();
    },
    stop: async () => {
      await stopServer("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    },
  };
}
