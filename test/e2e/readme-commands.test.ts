/**
 * The quick-start commands of the READMEs, run as written against the local
 * services, each checked for what its README says it does.
 *
 * Every command of a ```sh block that names `examples/` or
 * `tributary_example` is extracted (continuation lines joined, comments
 * dropped) and must have a check below, so a README that gains a command
 * gains a check. The commands run in README order with `bash -c` from the
 * repository root, changed only so parallel runs cannot collide: they use a
 * copy of examples/ in which `tributary_example` (the schema, key prefix,
 * slot and publication) is a name unique to this run. The source-postgres
 * quick-start needs wal_level=logical, so its commands (addresses and
 * `psql -h/-d/-U`) are pointed at a throwaway cluster instead, or at the
 * server in SOURCE_PG_URL (a superuser on a wal_level=logical server; the
 * test creates and drops its own database there). Needs the build.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { Redis } from "ioredis";
import { connect as natsConnect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../src/harness/catalog.js";
import { startPgCluster, type PgCluster } from "../support/pg-cluster.js";

const root = repoRoot();
const PG_URL = process.env.PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const token = `tx_${process.pid}_${Date.now().toString(36)}`;
const work = mkdtempSync(join(tmpdir(), "tributary-readme-"));

/** The commands of a README's ```sh blocks that belong to the quick-starts. */
export function quickStartCommands(markdown: string): string[] {
  const out: string[] = [];
  for (const block of markdown.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const joined = block[1]!.replace(/\\\n\s*/g, "");
    for (const raw of joined.split("\n")) {
      const line = raw.replace(/\s+#\s.*$/, "").trim();
      if (!line || line.startsWith("#")) continue;
      if (line.includes("examples/") || line.includes("tributary_example")) out.push(line);
    }
  }
  return out;
}

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The last stdout line of a materialization preview: its summary. */
const summary = (r: Ran) => JSON.parse(r.stdout.trim().split("\n").at(-1)!);

let pgLocal: pg.Client;
let redis: Redis;
let nats: NatsConnection;
let jsm: JetStreamManager;

/** Deletes the streams (KV buckets included) a run made: their names hold its token. */
async function dropNatsStreams(): Promise<void> {
  const names: string[] = [];
  for await (const n of jsm.streams.names()) if (n.includes(token)) names.push(n);
  for (const n of names) await jsm.streams.delete(n).catch(() => undefined);
}
let cluster: PgCluster;
let clusterDb: string;

async function pgRows(client: pg.Client, sql: string) {
  return (await client.query(sql)).rows;
}

/** What each command must do, by its text in the README. */
const CHECKS: Record<string, (r: Ran) => void | Promise<void>> = {
  "npx tributary preview --source examples/hello-world/flow.yaml --sessions 2,2 --output-state": (r) => {
    // Four transactions over two sessions; the runtime may fold several greetings into one transaction.
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const counts = lines.filter(([c]) => c === "acmeCo/greetings").map(([, d]) => d.count);
    expect(counts.length).toBeGreaterThanOrEqual(4);
    expect(counts).toEqual(counts.map((_: number, i: number) => i + 1));
    const states = lines.filter(([c]) => c === "connectorState");
    expect(states).toHaveLength(4);
    expect(states.at(-1)[1]).toEqual({ bindingStateV1: { greetings: { count: counts.length } } });
  },
  "npx tributary preview --source examples/fixture/to-postgres.flow.yaml --fixture examples/fixture/orders.jsonl": (r) => {
    expect(summary(r).stats).toMatchObject({ transactions: 3, documents: 5, deletes: 1 });
  },
  "psql -h 127.0.0.1 -U postgres -d test -c 'SELECT id, customer, status, total FROM tributary_example.orders ORDER BY id'": (r) => {
    expect(r.stdout).toMatch(/^\s+1 \| ada +\| shipped +\| +12\.5$/m);
    expect(r.stdout).toContain("(2 rows)");
    expect(r.stdout).not.toContain("bob");
  },
  "npx tributary preview --source examples/fixture/to-postgres-sharded.flow.yaml --fixture examples/fixture/orders.jsonl --crash-at after-started-commit:2 --shards 2": async (r) => {
    const s = summary(r);
    expect(s.shards.map((sh: { crashes: string[] }) => sh.crashes)).toEqual([["after-started-commit:2"], ["after-started-commit:2"]]);
    const rows = await pgRows(pgLocal, `SELECT id, status FROM ${token}.orders_sharded ORDER BY id`);
    expect(rows).toEqual([{ id: "1", status: "shipped" }, { id: "3", status: "placed" }]);
  },
  "npx tributary preview --source examples/hello-world/to-postgres.flow.yaml --name acmeCo/hello --sessions 5 --output-commits | npx tributary preview --source examples/hello-world/to-postgres.flow.yaml --name acmeCo/greetings-to-postgres":
    async (r) => {
      // Five capture transactions: at least five greetings (the runtime may fold several into one), all stored.
      const n = summary(r).stats.documents;
      expect(n).toBeGreaterThanOrEqual(5);
      const counts = (await pgRows(pgLocal, `SELECT count FROM ${token}.greetings ORDER BY count`)).map((x) => Number(x.count));
      expect(counts).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    },
  "psql -h 127.0.0.1 -U postgres -d test -c 'SELECT count, message FROM tributary_example.greetings ORDER BY count'": (r) => {
    expect(r.stdout).toMatch(/^\s+5 \| Hello #5$/m);
  },
  "npx tributary preview --source examples/fixture/to-redis.flow.yaml --fixture examples/fixture/orders.jsonl": async (r) => {
    expect(summary(r).stats).toMatchObject({ transactions: 3, documents: 5 });
    expect(await redis.exists(`${token}:orders:2`)).toBe(0);
  },
  "npx tributary preview --source examples/fixture/to-nats.flow.yaml --fixture examples/fixture/orders.jsonl": async (r) => {
    expect(summary(r).stats).toMatchObject({ transactions: 3, deletes: 1 });
    const kv = await jsm.streams.info(`KV_${token}_orders`, { subjects_filter: ">" });
    const last = async (id: number) => {
      const m = await jsm.streams.getMessage(`KV_${token}_orders`, { last_by_subj: `$KV.${token}_orders.${id}` });
      return m?.header?.get("KV-Operation") ? m.header.get("KV-Operation") : JSON.parse(new TextDecoder().decode(m!.data));
    };
    expect(Object.keys(kv.state.subjects ?? {}).length).toBe(3);
    expect(await last(1)).toMatchObject({ id: 1, customer: "ada", status: "shipped" });
    expect(await last(2)).toBe("DEL");
    const log = await jsm.streams.info(`${token}_orders_log`);
    expect(log.state.messages).toBe(5);
  },
  "redis-cli get tributary_example:orders:1": (r) => {
    expect(JSON.parse(r.stdout)).toMatchObject({ id: 1, customer: "ada" });
  },
  "npx tributary preview --source examples/hello-world/to-redis.flow.yaml --name acmeCo/hello --sessions 5 --output-commits | npx tributary preview --source examples/hello-world/to-redis.flow.yaml --name acmeCo/greetings-to-redis":
    async (r) => {
      const n = summary(r).stats.documents;
      expect(n).toBeGreaterThanOrEqual(5);
      expect(await redis.exists(`${token}:greetings:${n}`)).toBe(1);
    },
  "redis-cli get tributary_example:greetings:5": (r) => {
    expect(JSON.parse(r.stdout)).toMatchObject({ count: 5, message: "Hello #5" });
  },
  // source-postgres, against the wal_level=logical cluster.
  "psql -h 127.0.0.1 -U postgres -d test -f examples/postgres/setup.sql": async (r) => {
    expect(r.status).toBe(0);
    expect(await clusterRows(`SELECT count(*)::int AS n FROM shop.orders`)).toEqual([{ n: 3 }]);
  },
  "npx tributary discover --source examples/postgres/flow.yaml": (r) => {
    expect(r.stderr).toContain("discovered 1 binding of acmeCo/postgres: added none; kept acmeCo/shop/orders; dropped none");
    // The committed example is exactly what Discover writes for setup.sql's table.
    expect(fromCluster(readFileSync(join(work, "examples", "postgres", "flow.yaml"), "utf8"))).toBe(readFileSync(join(root, "examples", "postgres", "flow.yaml"), "utf8"));
  },
  "npx tributary preview --source examples/postgres/to-postgres.flow.yaml --name acmeCo/postgres --timeout 20s --output-commits | npx tributary preview --source examples/postgres/to-postgres.flow.yaml --name acmeCo/shop/to-postgres":
    async (r) => {
      expect(summary(r).stats.documents).toBe(3);
      expect(r.stderr).toContain(`tributary preview: left behind at the source: replication slot ${token}`);
      expect(r.stderr).toContain(`SELECT pg_drop_replication_slot(E'${token}');`);
    },
  "psql -h 127.0.0.1 -U postgres -d test -c 'SELECT id, customer, total FROM tributary_example.shop_orders ORDER BY id'": (r) => {
    expect(r.stdout).toMatch(/^\s+3 \| cyd +\| 30\.25$/m);
    expect(r.stdout).toContain("(3 rows)");
  },
  "npx tributary preview --source examples/postgres/to-redis.flow.yaml --name acmeCo/postgres --timeout 20s --output-commits | npx tributary preview --source examples/postgres/to-redis.flow.yaml --name acmeCo/shop/to-redis":
    (r) => {
      expect(summary(r).stats.documents).toBe(3);
    },
  "psql -h 127.0.0.1 -U postgres -d test -f examples/postgres/cleanup.sql": async (r) => {
    expect(r.status).toBe(0);
    expect(await clusterRows(`SELECT slot_name FROM pg_replication_slots`)).toEqual([]);
    expect(await clusterRows(`SELECT pubname FROM pg_publication`)).toEqual([]);
  },
};

async function clusterRows(sql: string) {
  return cluster.query(clusterDb, sql);
}

/** Undoes the cluster rewrite of a catalog (to compare it with the committed one). */
function fromCluster(text: string): string {
  return text.replaceAll(`${cluster.host}:${cluster.port}`, "127.0.0.1:5432").replaceAll(`database: ${clusterDb}`, "database: test").replaceAll(token, "tributary_example");
}

/** A copy of examples/ with this run's names, and (logical) the cluster's address. */
function copyExamples(dir: string, logical: boolean) {
  cpSync(join(root, "examples"), join(dir, "examples"), { recursive: true });
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) {
        walk(p);
        continue;
      }
      let text = readFileSync(p, "utf8").replaceAll("tributary_example", token);
      if (logical) text = text.replaceAll("127.0.0.1:5432", `${cluster.host}:${cluster.port}`).replaceAll("database: test", `database: ${clusterDb}`);
      writeFileSync(p, text);
    }
  };
  walk(join(dir, "examples"));
}

function run(command: string, dir: string, logical: boolean): Ran {
  let cmd = command.replaceAll("examples/", `${dir}/examples/`).replaceAll("tributary_example", token);
  if (logical) cmd = cmd.replaceAll("-h 127.0.0.1 -U postgres -d test", `-h ${cluster.host} -p ${cluster.port} -U ${cluster.user} -d ${clusterDb}`);
  const r = spawnSync("bash", ["-c", `set -o pipefail; ${cmd}`], { cwd: root, encoding: "utf8", timeout: 150_000, env: { ...process.env, PGCONNECT_TIMEOUT: "10" } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  if (!statSync(join(root, "dist", "src", "cli", "main.js"), { throwIfNoEntry: false })) throw new Error("dist/ is not built: run `npm run build` first");
  pgLocal = new pg.Client({ connectionString: PG_URL });
  await pgLocal.connect();
  redis = new Redis(REDIS_URL, { lazyConnect: true });
  await redis.connect();
  nats = await natsConnect({ servers: NATS_URL });
  jsm = await jetstreamManager(nats);
  cluster = await startPgCluster();
  clusterDb = `readme_${token}`;
  await cluster.createDatabase(clusterDb);
});

afterAll(async () => {
  await pgLocal?.query(`DROP SCHEMA IF EXISTS ${token} CASCADE`).catch(() => {});
  await pgLocal?.end();
  if (redis) {
    const keys = await redis.keys(`${token}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
  if (jsm) await dropNatsStreams();
  await nats?.close();
  if (cluster && !cluster.owned) await cluster.query("postgres", `DROP DATABASE IF EXISTS ${clusterDb} WITH (FORCE)`).catch(() => {});
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

const DOCS: { doc: string; logical: boolean }[] = [
  { doc: "README.md", logical: false },
  { doc: "connectors/materialize-postgres/README.md", logical: false },
  { doc: "connectors/materialize-redis/README.md", logical: false },
  { doc: "connectors/materialize-nats/README.md", logical: false },
  { doc: "connectors/source-postgres/README.md", logical: true },
];

describe("README quick-starts", () => {
  it("gives every quick-start command a check", () => {
    const all = DOCS.flatMap(({ doc }) => quickStartCommands(readFileSync(join(root, doc), "utf8")).map((c) => [doc, c] as const));
    expect(all.length).toBeGreaterThan(10);
    const unchecked = all.filter(([, c]) => !(c in CHECKS)).map(([doc, c]) => `${doc}: ${c}`);
    expect(unchecked).toEqual([]);
    const used = new Set(all.map(([, c]) => c));
    expect(Object.keys(CHECKS).filter((c) => !used.has(c))).toEqual([]);
  });

  for (const { doc, logical } of DOCS) {
    it(`${doc}: each command does what the README says`, { timeout: 600_000 }, async () => {
      const commands = quickStartCommands(readFileSync(join(root, doc), "utf8"));
      // Each README starts from scratch: its own copy of the examples, no state of another's.
      await pgLocal.query(`DROP SCHEMA IF EXISTS ${token} CASCADE`);
      const keys = await redis.keys(`${token}:*`);
      if (keys.length) await redis.del(...keys);
      await dropNatsStreams();
      rmSync(join(work, "examples"), { recursive: true, force: true });
      copyExamples(work, logical);
      for (const command of commands) {
        const r = run(command, work, logical);
        const what = `${doc}: ${command}\nexit ${r.status}\nstderr: ${r.stderr.slice(-2000)}`;
        expect(r.status, what).toBe(0);
        await CHECKS[command]!(r);
      }
    });
  }
});
