/**
 * A throwaway PostgreSQL cluster for tests that need logical replication.
 *
 * The shared server on :5432 runs with wal_level=replica, and changing that
 * needs a restart we must not impose on others, so each test file starts its
 * own cluster (initdb + pg_ctl) in a temp dir, on a free port, trust auth,
 * wal_level=logical, and stops it afterwards. initdb and postgres refuse to
 * run as root, so they run as the `postgres` OS user, which owns the dir.
 *
 * SOURCE_PG_URL points the tests at a server of the user's own instead
 * (it must have wal_level=logical and a superuser in the URL); `restart()`
 * is then unavailable and the tests that need it skip themselves.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, chown, readFile, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "./free-port.js";

const run = promisify(execFile);
const BIN = process.env.PG_BIN_DIR ?? "/usr/lib/postgresql/15/bin";

export interface PgCluster {
  /** postgres://user@host:port/database of the maintenance database. */
  url: string;
  host: string;
  port: number;
  user: string;
  database: string;
  /** True when the cluster is ours (started here) rather than SOURCE_PG_URL. */
  owned: boolean;
  /** The data directory (owned clusters only). */
  dataDir?: string;
  /** A URL for another database on the same server. */
  urlFor(database: string): string;
  /** Creates (or re-creates) a database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Runs SQL in a database and returns the rows. */
  query<T = any>(database: string, sql: string, params?: unknown[]): Promise<T[]>;
  /** Restarts the server (fast shutdown), dropping every connection. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Runs a PostgreSQL binary as the postgres OS user when we are root. */
async function asPostgres(bin: string, args: string[]): Promise<void> {
  const file = join(BIN, bin);
  if (process.getuid?.() === 0) {
    await run("runuser", ["-u", "postgres", "--", file, ...args], { maxBuffer: 16 << 20 });
  } else {
    await run(file, args, { maxBuffer: 16 << 20 });
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = "/" + encodeURIComponent(database);
  return u.toString();
}

function makeHelpers(base: Omit<PgCluster, "urlFor" | "createDatabase" | "query">): PgCluster {
  const urlFor = (db: string) => withDatabase(base.url, db);
  const query = async <T,>(db: string, sql: string, params?: unknown[]): Promise<T[]> => {
    const client = new pg.Client({ connectionString: urlFor(db) });
    await client.connect();
    try {
      const res = await client.query(sql, params as any[]);
      return res.rows as T[];
    } finally {
      await client.end();
    }
  };
  const createDatabase = async (name: string) => {
    // Slots pin a database; drop any left by a previous run before the database.
    await query(base.database, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active`, [name]);
    await query(base.database, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await query(base.database, `CREATE DATABASE "${name}"`);
    return urlFor(name);
  };
  return { ...base, urlFor, query, createDatabase };
}

/**
 * `settings`: server settings (-c) over the defaults below.
 * `hbaFirst`: pg_hba.conf lines placed before initdb's trust rules.
 * `files`: files written into the data directory before the server starts
 * (e.g. a TLS key, which must belong to the server's user with mode 0600).
 */
export async function startPgCluster(
  opts: { settings?: Record<string, string>; hbaFirst?: string[]; files?: Record<string, string> } = {},
): Promise<PgCluster> {
  const external = process.env.SOURCE_PG_URL;
  if (external) {
    const u = new URL(external);
    return makeHelpers({
      url: external,
      host: u.hostname,
      port: Number(u.port || 5432),
      user: decodeURIComponent(u.username || "postgres"),
      database: decodeURIComponent(u.pathname.slice(1) || "postgres"),
      owned: false,
      restart: async () => {
        throw new Error("restart() needs a cluster started by the tests; unset SOURCE_PG_URL");
      },
      stop: async () => {},
    });
  }

  const dir = await mkdtemp(join(tmpdir(), "tributary-pg-"));
  const dataDir = join(dir, "data");
  if (process.getuid?.() === 0) {
    const { uid, gid } = postgresIds();
    await chown(dir, uid, gid);
  }
  await asPostgres("initdb", ["-D", dataDir, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"]);

  if (opts.hbaFirst?.length) {
    const hba = join(dataDir, "pg_hba.conf");
    await writeFile(hba, opts.hbaFirst.join("\n") + "\n" + (await readFile(hba, "utf8")));
  }
  for (const [name, text] of Object.entries(opts.files ?? {})) {
    const file = join(dataDir, name);
    await writeFile(file, text, { mode: 0o600 });
    if (process.getuid?.() === 0) {
      const { uid, gid } = postgresIds();
      await chown(file, uid, gid);
    }
  }

  const port = await freePort();
  const settings: Record<string, string> = {
    listen_addresses: "127.0.0.1",
    port: String(port),
    unix_socket_directories: dir,
    wal_level: "logical",
    max_replication_slots: "10",
    max_wal_senders: "10",
    fsync: "off",
    synchronous_commit: "off",
    full_page_writes: "off",
    // The Go connector's tests run the server in a non-UTC zone to catch shifted timestamps; so do we.
    timezone: "America/Los_Angeles",
    ...opts.settings,
  };
  const pgOpts = Object.entries(settings)
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(" ");
  const logFile = join(dir, "server.log");
  const start = () => asPostgres("pg_ctl", ["-D", dataDir, "-l", logFile, "-o", pgOpts, "-w", "-t", "60", "start"]);
  await start();

  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return makeHelpers({
    url,
    host: "127.0.0.1",
    port,
    user: "postgres",
    database: "postgres",
    owned: true,
    dataDir,
    restart: async () => {
      await asPostgres("pg_ctl", ["-D", dataDir, "-m", "fast", "-w", "stop"]);
      await start();
    },
    stop: async () => {
      await asPostgres("pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "stop"]).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  });
}

/** The uid and gid of the `postgres` OS user, from /etc/passwd. */
function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  if (!line) throw new Error("no `postgres` OS user to run the throwaway cluster as; set SOURCE_PG_URL instead");
  const parts = line.split(":");
  return { uid: Number(parts[2]), gid: Number(parts[3]) };
}
