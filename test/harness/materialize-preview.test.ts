/**
 * Materialization previews into test/support/memory-materialize (a real
 * connector process built with the SDK): every crash point, a zombie
 * session, shards and a merge, both codecs, both checkpoint models, and a
 * capture piped into a materialization. Needs a build (`npx tsc -p .`).
 */
import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CRASH_POINTS, catalogFromObject, runMaterializePreview, type CrashPoint, type MaterializePreviewOptions } from "../../src/harness/index.js";
import { repoRoot } from "../../src/harness/catalog.js";
import { buildShape } from "../../src/harness/schema-shape.js";
import { reduce } from "../../src/harness/reduce.js";
import { createLogger } from "../../src/log.js";
import { readStore, type StoreFile } from "../support/memory-materialize/store.js";

const root = repoRoot();
const quiet = createLogger({ level: "error" });
const run = promisify(execFile);

const SCHEMA = {
  type: "object",
  reduce: { strategy: "merge" },
  properties: {
    id: { type: "integer" },
    name: { type: "string" },
    n: { type: "integer", reduce: { strategy: "sum" } },
    _meta: { type: "object", properties: { op: { type: "string" } } },
  },
  required: ["id"],
};

interface Setup {
  dir: string;
  catalog: string;
  store: string;
  fixture: string;
  lines: string[];
}

function setup(opts: { config?: Record<string, unknown>; delta?: boolean; txns?: number } = {}): Setup {
  const dir = mkdtempSync(join(tmpdir(), "harness-mat-"));
  const store = join(dir, "store.json");
  const catalog = join(dir, "flow.yaml");
  const bindings: unknown[] = [{ resource: { table: "things" }, source: "acmeCo/things" }];
  if (opts.delta) bindings.push({ resource: { table: "events", delta: true }, source: "acmeCo/things" });
  writeFileSync(
    catalog,
    JSON.stringify({
      collections: { "acmeCo/things": { schema: SCHEMA, key: ["/id"] } },
      materializations: {
        "acmeCo/memory": {
          endpoint: { local: { command: ["node", "<repo>/dist/test/support/memory-materialize/main.js"], config: { path: store, ...opts.config } } },
          bindings,
        },
      },
    }),
  );
  // Deterministic transactions of upserts, sums and deletions over 25 keys.
  const lines: string[] = [];
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), Math.floor(seed / 65536) % n);
  for (let t = 0; t < (opts.txns ?? 5); t++) {
    for (let i = 0; i < 20; i++) {
      const id = 1 + rand(25);
      if (rand(8) === 0) lines.push(JSON.stringify(["acmeCo/things", { id, _meta: { op: "d" } }]));
      else lines.push(JSON.stringify(["acmeCo/things", { id, name: `v${t}-${i}`, n: 1 + rand(5) }]));
    }
    lines.push(JSON.stringify({ commit: true }));
  }
  const fixture = join(dir, "fixture.jsonl");
  writeFileSync(fixture, lines.join("\n") + "\n");
  return { dir, catalog, store, fixture, lines };
}

/** What the table must hold: the fixture reduced per transaction onto the previous contents. */
function expectedRows(lines: string[]): Record<string, { n: unknown; name: unknown }> {
  const shape = buildShape(SCHEMA);
  const table = new Map<number, any>();
  let txn = new Map<number, any>();
  const commit = () => {
    for (const [id, doc] of [...txn].sort(([a], [b]) => a - b)) {
      const merged = table.has(id) ? reduce(shape, table.get(id), doc) : doc;
      if ((merged as any)._meta?.op === "d") table.delete(id);
      else table.set(id, merged);
    }
    txn = new Map();
  };
  for (const l of lines) {
    const v = JSON.parse(l);
    if (!Array.isArray(v)) {
      commit();
      continue;
    }
    const doc = { ...v[1], _meta: { ...(v[1]._meta ?? {}), uuid: "x" } };
    txn.set(doc.id, txn.has(doc.id) ? reduce(shape, txn.get(doc.id), doc) : doc);
  }
  commit();
  const out: Record<string, { n: unknown; name: unknown }> = {};
  for (const [id, d] of table) out[JSON.stringify([id])] = { n: d.n ?? null, name: d.name ?? null };
  return out;
}

function rows(s: StoreFile, table = "things") {
  const out: Record<string, { n: unknown; name: unknown }> = {};
  for (const [k, r] of Object.entries(s.tables[table]!.rows)) out[k] = { n: r.values[0], name: r.values[1] };
  return out;
}

async function preview(s: Setup, extra: Partial<MaterializePreviewOptions> = {}) {
  return runMaterializePreview({ catalog: s.catalog, fixture: s.fixture, recoveryLog: join(s.dir, "recovery.json"), log: quiet, ...extra });
}

describe("materialization preview into memory-materialize", () => {
  const base = setup();
  let baseline: StoreFile;

  it("materializes a fixture: loads, reductions, exists and delete flags, checkpoints", async () => {
    const res = await preview(base);
    baseline = readStore(base.store);
    expect(rows(baseline)).toEqual(expectedRows(base.lines));
    expect(Object.keys(rows(baseline)).length).toBeGreaterThan(5);
    expect(res.stats.transactions).toBe(5);
    expect(res.stats.deletes).toBeGreaterThan(0);
    expect(res.stats.loadsSkipped).toBeGreaterThan(0); // first-seen keys above the stored bound
    expect(res.stats.loaded).toBeGreaterThan(0);
    expect(res.applyDescription).toBe("created table things");
    const shard = res.shards[0]!;
    expect(shard.resumedFrom).toEqual(["zero"]);
    expect(shard.checkpoint).toEqual({ "fixture/fixture.jsonl": Buffer.byteLength(base.lines.join("\n") + "\n") });
    // The connector's own checkpoint matches (committed with the data).
    expect(Object.keys(baseline.fences)).toEqual(["00000000-ffffffff"]);
    expect(baseline.commits).toBe(5);
    // Each row keeps the whole reduced document, with the runtime's UUID.
    const any = Object.values(baseline.tables.things!.rows)[0]!;
    expect((any.doc as any)._meta.uuid).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("re-running with the same recovery log and destination resumes at the end: nothing is applied twice", async () => {
    const res = await preview(base);
    expect(res.stats.transactions).toBe(0);
    expect(res.shards[0]!.resumedFrom).toEqual(["connector"]);
    expect(rows(readStore(base.store))).toEqual(rows(baseline));
  });

  for (const point of CRASH_POINTS) {
    it(`recovers from a crash ${point} (transactions 1, 3 and 5) with the same final contents`, async () => {
      for (const txn of [1, 3, 5]) {
        const s = setup();
        // after-open counts sessions: its second session only exists after an earlier crash.
        const crashAt: CrashPoint[] = point === "after-open" && txn > 1 ? [{ point: "after-log-commit", txn }, { point, txn: 2 }] : [{ point, txn }];
        const res = await preview(s, { crashAt });
        expect(res.shards[0]!.crashes, `${point}:${txn}`).toEqual(crashAt.map((c) => `${c.point}:${c.txn}`));
        expect(res.stats.sessions).toBe(crashAt.length + 1);
        const got = readStore(s.store);
        expect(rows(got), `${point}:${txn}`).toEqual(rows(baseline));
        // Each transaction committed exactly once at the destination, except
        // that a crash after the connector committed leaves no replay at all.
        expect(got.commits, `${point}:${txn}`).toBe(5);
      }
    });
  }

  it("fences a zombie session: the superseded session fails 'fenced off' and the result is unchanged", async () => {
    const s = setup();
    const res = await preview(s, { zombie: { afterTxn: 2 } });
    const z = res.shards[0]!.zombie!;
    expect(z.fenced).toBe(true);
    expect(z.error).toMatch(/fenced off/);
    expect(res.shards[0]!.resumedFrom).toEqual(["zero", "connector"]);
    expect(rows(readStore(s.store))).toEqual(rows(baseline));
  });

  it("fails when a superseded session can still commit (a connector that does not fence)", async () => {
    const s = setup({ config: { noFence: true } });
    await expect(preview(s, { zombie: true })).rejects.toThrow(/zombie session committed a transaction after a newer session opened range 00000000-ffffffff: the connector does not fence off superseded sessions/);
  });

  it("splits the key range over shards (with crashes), then merges back to one shard", async () => {
    const s = setup();
    const res = await preview(s, { shards: 3, crashAt: [{ point: "mid-store", txn: 2 }, { point: "after-started-commit", txn: 4 }] });
    expect(res.shards.map((x) => x.name)).toEqual(["00000000-55555554", "55555555-aaaaaaa9", "aaaaaaaa-ffffffff"]);
    expect(res.stats.crashes).toBe(6);
    const split = readStore(s.store);
    expect(rows(split)).toEqual(rows(baseline));
    expect(Object.keys(split.fences).sort()).toEqual(["00000000-55555554", "55555555-aaaaaaa9", "aaaaaaaa-ffffffff"]);
    // Every document reached exactly one shard (plus replays after crashes).
    expect(res.stats.documents).toBeGreaterThanOrEqual(100);

    const merged = await preview(s, { shards: 1 });
    expect(merged.shards[0]!.resumedFrom).toEqual(["connector"]);
    expect(merged.stats.transactions).toBe(0);
    expect(rows(readStore(s.store))).toEqual(rows(baseline));
  });

  it("speaks protobuf as well as JSON", async () => {
    const s = setup();
    await preview(s, { codec: "proto", crashAt: { point: "after-start-commit", txn: 2 } });
    expect(rows(readStore(s.store))).toEqual(rows(baseline));
  });

  it("resumes from its own recovery log when the connector returns no checkpoint", async () => {
    const s = setup({ config: { noCheckpoint: true } });
    const first = await preview(s, { fixture: s.fixture });
    expect(first.shards[0]!.resumedFrom).toEqual(["recovery-log"]);
    expect(rows(readStore(s.store))).toEqual(rows(baseline));
    const again = await preview(s);
    expect(again.shards[0]!.resumedFrom).toEqual(["recovery-log"]);
    expect(again.stats.transactions).toBe(0);
    expect(readStore(s.store).commits).toBe(5);
  });

  it("sends every Load when the connector disables the load optimization, and none for delta-updates bindings", async () => {
    const s = setup({ config: { disableLoadOptimization: true }, delta: true });
    const res = await preview(s);
    expect(res.stats.loadsSkipped).toBe(0);
    // One load per distinct key per transaction, for the standard binding only.
    let distinct = 0;
    let keys = new Set<number>();
    for (const l of s.lines) {
      const v = JSON.parse(l);
      if (Array.isArray(v)) keys.add(v[1].id);
      else {
        distinct += keys.size;
        keys = new Set();
      }
    }
    expect(res.stats.loads).toBe(distinct);
    const got = readStore(s.store);
    expect(rows(got)).toEqual(rows(baseline));
    // The delta binding appends each transaction's combined documents, tombstones included.
    expect(got.tables.events!.appended.length).toBe(distinct);
  });

  it("accepts a catalog and transactions built in code", async () => {
    const dir = mkdtempSync(join(tmpdir(), "harness-inline-"));
    const store = join(dir, "store.json");
    const catalog = catalogFromObject({
      collections: { "acmeCo/things": { schema: SCHEMA, key: ["/id"] } },
      materializations: {
        "acmeCo/memory": {
          endpoint: { local: { command: ["node", "<repo>/dist/test/support/memory-materialize/main.js"], config: { path: store } } },
          bindings: [{ resource: { table: "things" }, source: "acmeCo/things", fields: { recommended: false, include: ["name"] } }],
        },
      },
    });
    const res = await runMaterializePreview({
      catalog,
      fixture: [
        [["acmeCo/things", { id: 1, name: "a", n: 1 }], ["acmeCo/things", { id: 2, name: "b", n: 1 }]],
        [["acmeCo/things", { id: 1, n: 5 }]],
      ],
      log: quiet,
    });
    expect(res.stats.transactions).toBe(2);
    expect(res.shards[0]!.checkpoint["fixture/inline"]).toBeGreaterThan(0);
    // Only the included value field: n is left out by `recommended: false`.
    expect(res.spec.spec.bindings[0]!.fieldSelection!.values).toEqual(["name"]);
    const rowsNow = readStore(store).tables.things!.rows;
    expect(rowsNow["[1]"]!.values).toEqual(["a"]);
    expect((rowsNow["[1]"]!.doc as any).n).toBe(6);
  });

  it("takes a capture preview's output on stdin (tributary preview | tributary preview)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "harness-pipe-"));
    const store = join(dir, "store.json");
    const catalog = join(dir, "flow.yaml");
    writeFileSync(
      catalog,
      JSON.stringify({
        collections: { "acmeCo/greetings": { schema: { type: "object", properties: { count: { type: "integer" }, message: { type: "string" } }, required: ["count", "message"] }, key: ["/count"] } },
        captures: {
          "acmeCo/hello": {
            endpoint: { connector: { image: "ghcr.io/estuary/source-hello-world:v1", config: { rate: 0, perCheckpoint: 10 } } },
            bindings: [{ resource: { name: "greetings" }, target: "acmeCo/greetings" }],
          },
        },
        materializations: {
          "acmeCo/memory": {
            endpoint: { local: { command: ["node", "<repo>/dist/test/support/memory-materialize/main.js"], config: { path: store } } },
            bindings: [{ resource: { table: "greetings" }, source: "acmeCo/greetings" }],
          },
        },
      }),
    );
    const bin = join(root, "bin", "tributary");
    const { stdout, stderr } = await run(
      "sh",
      ["-c", `"${process.execPath}" "${bin}" preview --source "${catalog}" --name acmeCo/hello --sessions 2,1 --output-commits | "${process.execPath}" "${bin}" preview --source "${catalog}" --name acmeCo/memory`],
      { env: { ...process.env, LOG_LEVEL: "warn" } },
    );
    const summary = JSON.parse(stdout.trim().split("\n").at(-1)!);
    if (summary.stats.transactions < 3) console.error(stderr);
    expect(summary.stats.transactions).toBeGreaterThanOrEqual(3);
    expect(summary.shards[0].checkpoint["fixture/stdin"]).toBeGreaterThan(0);
    const got = readStore(store).tables.greetings!.rows;
    const counts = Object.values(got).map((r) => r.key[0] as number).sort((a, b) => a - b);
    expect(counts.length).toBeGreaterThanOrEqual(30);
    counts.forEach((c, i) => expect(c).toBe(i + 1));
    expect(got["[1]"]!.values).toEqual(["Hello #1"]);
  });
});

describe("connector state durability", () => {
  function stateful(scenario = "stateful") {
    const dir = mkdtempSync(join(tmpdir(), "harness-state-"));
    const catalog = catalogFromObject({
      collections: { "acmeCo/things": { schema: SCHEMA, key: ["/id"] } },
      materializations: {
        "acmeCo/raw": {
          endpoint: { local: { command: ["node", "<repo>/test/support/raw-connectors/raw.mjs"], env: { RAW_SCENARIO: scenario, RAW_PROTOCOL: "materialize" } } },
          bindings: [{ resource: { table: "t" }, source: "acmeCo/things" }],
        },
      },
    });
    const opened: unknown[] = [];
    const log = createLogger({
      level: "info",
      write: (line) => {
        const l = JSON.parse(line);
        if (l.msg === "open-state") opened.push(l.state);
      },
    });
    const fixture = join(dir, "f.jsonl");
    const txn1 = '["acmeCo/things", {"id": 1}]\n{"commit": true}\n';
    const txn2 = '["acmeCo/things", {"id": 2}]\n{"commit": true}\n';
    writeFileSync(fixture, txn1 + txn2);
    // Read positions after each transaction, as int64 JSON strings.
    const cp1 = String(Buffer.byteLength(txn1));
    const cp2 = String(Buffer.byteLength(txn1 + txn2));
    return { catalog, fixture, log, opened, rl: join(dir, "rl.json"), cp1, cp2 };
  }

  it("calls Apply again while Applied carries state, and opens with that state", async () => {
    const s = stateful("apply-rounds");
    const res = await runMaterializePreview({ catalog: s.catalog, fixture: s.fixture, recoveryLog: s.rl, log: s.log });
    expect(res.applyDescription).toBe("drained pending work\napplied changes");
    expect(s.opened).toEqual([{ applyRounds: 1 }]);
  });

  it("keeps Flushed, StartedCommit and Acknowledged state in the recovery log", async () => {
    const s = stateful();
    const res = await runMaterializePreview({ catalog: s.catalog, fixture: s.fixture, recoveryLog: s.rl, log: s.log });
    // Acknowledged three times (after Open and after each commit), two transactions.
    expect(res.shards[0]!.connectorState).toEqual({ acked: 3, flushed: 2, started: 2, cp: s.cp2 });
    expect(s.opened).toEqual([{}]);
  });

  it("commits StartedCommit state only with its checkpoint; Flushed and Acknowledged state are written at once", async () => {
    const s = stateful();
    const res = await runMaterializePreview({ catalog: s.catalog, fixture: s.fixture, recoveryLog: s.rl, log: s.log, crashAt: { point: "after-started-commit", txn: 2 } });
    // The second session opens with transaction 1's commit, plus the state
    // written outside commits before the crash (Flushed of txn 2, Acknowledged of txn 1).
    expect(s.opened).toEqual([{}, { acked: 2, flushed: 2, started: 1, cp: s.cp1 }]);
    // It resumed from the recovery log (no connector checkpoint) and replayed transaction 2.
    expect(res.shards[0]!.resumedFrom).toEqual(["recovery-log", "recovery-log"]);
    expect(res.shards[0]!.connectorState).toEqual({ acked: 2, flushed: 1, started: 1, cp: s.cp2 });
    expect(res.shards[0]!.checkpoint).toEqual({ "fixture/f.jsonl": Number(s.cp2) });
  });
});
