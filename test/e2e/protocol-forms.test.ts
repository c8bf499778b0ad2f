/**
 * Every connector under both protocol forms — the newest (linked collections,
 * projection constraints, backfill markers) and the legacy one — over real
 * stdio pipes (`tributary run`, spawned by the harness) and real gRPC
 * (`tributary serve`): the harness sends Spec, Validate, Apply and Open in
 * the form asked for, checks the newest rules, and the outcome must be the
 * same in both forms. Needs a build (`npx tsc -p .`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCapturePreview, runMaterializePreview } from "../../src/harness/index.js";
import { repoRoot } from "../../src/harness/catalog.js";
import type { ProtocolForm } from "../../src/harness/protocol-form.js";
import { createLogger } from "../../src/log.js";
import { startPgCluster, type PgCluster } from "../support/pg-cluster.js";
import { endpointConfig } from "../../connectors/materialize-postgres/test-support.js";
import { testSchemas } from "../../connectors/materialize-postgres/test-schemas.js";
import { dropNamespace, namespace, redis, REDIS_URL, snapshot } from "../../connectors/materialize-redis/test-support.js";

const quiet = createLogger({ level: process.env.TEST_LOG ?? "error" });
const FORMS: ProtocolForm[] = ["newest", "legacy"];
const TRANSPORTS = ["stdio", "grpc"] as const;
type Transport = (typeof TRANSPORTS)[number];
const FIXTURE = join(repoRoot(), "test/harness/fixtures/things.jsonl");
const THINGS = {
  schema: {
    type: "object",
    properties: { id: { type: "integer" }, name: { type: "string" }, n: { type: "integer", reduce: { strategy: "sum" } }, tags: { type: "array", items: { type: "string" } }, nested: { type: "object", properties: { a: { type: "string" } } }, _meta: { type: "object", properties: { op: { type: "string" } } } },
    required: ["id"],
    reduce: { strategy: "merge" },
  },
  key: ["/id"],
};

const servers = new Map<string, Promise<string>>();
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
});

/** `tributary serve <connector>` in its own process, once per connector; its address. */
function served(connector: string): Promise<string> {
  let address = servers.get(connector);
  if (!address) {
    address = (async () => {
      const child = spawn(process.execPath, [join(repoRoot(), "bin", "tributary"), "serve", connector, "--port", "0"], { stdio: ["ignore", "pipe", "ignore"] });
      children.push(child);
      for await (const line of createInterface({ input: child.stdout! })) {
        const m = /^listening on (.+)$/.exec(line);
        if (m) return m[1]!;
      }
      throw new Error(`tributary serve ${connector} exited before listening`);
    })();
    servers.set(connector, address);
  }
  return address;
}

function catalogFile(doc: object): string {
  const path = join(mkdtempSync(join(tmpdir(), "protocol-forms-")), "flow.json");
  writeFileSync(path, JSON.stringify(doc));
  return path;
}

const grpcOf = async (t: Transport, connector: string) => (t === "grpc" ? await served(connector) : undefined);

describe.each(TRANSPORTS)("over %s", (transport) => {
  describe("source-hello-world", () => {
    it.each(FORMS)("%s form", async (protocolForm) => {
      const catalog = catalogFile({
        collections: { "acmeCo/greetings": { schema: { type: "object", properties: { count: { type: "integer" }, message: { type: "string" } }, required: ["count", "message"] }, key: ["/count"] } },
        captures: {
          "acmeCo/hello": {
            endpoint: { connector: { image: "ghcr.io/estuary/source-hello-world:v1", config: { rate: 0, perCheckpoint: 3 } } },
            bindings: [{ resource: { name: "greetings" }, target: "acmeCo/greetings" }],
          },
        },
      });
      const res = await runCapturePreview({ catalog, sessions: [2], protocolForm, grpcAddress: await grpcOf(transport, "source-hello-world"), log: quiet });
      expect(res.spec.wireSpec.linkedCollections.length).toBe(protocolForm === "newest" ? 1 : 0);
      expect(res.stats.transactions).toBe(2);
      // How many greetings fold into a transaction depends on timing: compare the sequence, not its length.
      const counts = res.documents.map(([, d]) => (d as { count: number }).count);
      expect(counts.length).toBeGreaterThanOrEqual(3);
      counts.forEach((c, i) => expect(c).toBe(i + 1));
      expect(res.state).toEqual({ bindingStateV1: { greetings: { count: counts.at(-1) } } });
    });
  });

  describe("source-postgres", () => {
    let pg: PgCluster;
    beforeAll(async () => {
      pg = await startPgCluster();
    });
    afterAll(async () => {
      await pg?.stop();
    });

    it.each(FORMS)("%s form: backfills, with markers only in the newest form", async (protocolForm) => {
      const db = `forms_${transport}_${protocolForm}`;
      await pg.createDatabase(db);
      await pg.query(db, `CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL)`);
      await pg.query(db, `INSERT INTO orders SELECT g, 'c' || g FROM generate_series(1, 12) g`);
      const config = { address: `${pg.host}:${pg.port}`, database: db, user: pg.user, sslmode: "disable", slot: `slot_${db}`, publication: `pub_${db}`, backfill_chunk_size: 5 };
      const catalog = catalogFile({
        collections: {
          "acmeCo/orders": { schema: { type: "object", properties: { id: { type: "integer" }, customer: { type: "string" } }, required: ["id"] }, key: ["/id"] },
        },
        captures: {
          "acmeCo/pg": {
            endpoint: { connector: { image: "ghcr.io/estuary/source-postgres:dev", config } },
            bindings: [{ resource: { namespace: "public", stream: "orders" }, target: "acmeCo/orders" }],
          },
        },
      });
      const res = await runCapturePreview({
        catalog,
        protocolForm,
        grpcAddress: await grpcOf(transport, "source-postgres"),
        timeoutMs: 60_000,
        log: quiet,
        logLevel: "warn",
        onTransaction: (t) => (t.state as any)?.bindingStateV1?.["public%2Forders"]?.mode !== "active",
      });
      expect(res.stats.timedOut).toBe(true); // ended by onTransaction, once active
      expect((res.state as any).bindingStateV1["public%2Forders"].mode).toBe("active");
      expect(res.documents.map(([, d]) => (d as { id: number }).id).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      const markers = protocolForm === "newest" ? 1 : 0;
      expect([res.stats.backfillBegins, res.stats.backfillCompletes]).toEqual([markers, markers]);
    });
  });

  describe("materialize-postgres", () => {
    const db = testSchemas(`forms${transport}`);
    const outcomes: unknown[] = [];
    it.each(FORMS)("%s form", async (protocolForm) => {
      const schema = db.fresh();
      const catalog = catalogFile({
        collections: { "acmeCo/things": THINGS },
        materializations: {
          "acmeCo/postgres": {
            endpoint: { connector: { image: "ghcr.io/tributary-dev/materialize-postgres:dev", config: endpointConfig(schema) } },
            bindings: [
              { resource: { table: "things" }, source: "acmeCo/things" },
              { resource: { table: "things_log", delta_updates: true }, source: "acmeCo/things" },
            ],
          },
        },
      });
      const res = await runMaterializePreview({ catalog, fixture: FIXTURE, sourceName: "fixture/things", protocolForm, grpcAddress: await grpcOf(transport, "materialize-postgres"), timeoutMs: 60_000, log: quiet });
      expect(res.spec.wireSpec.linkedCollections.length).toBe(protocolForm === "newest" ? 1 : 0);
      // Field selection came from projection_constraints in the newest form, from the map in the legacy one.
      expect(res.spec.spec.bindings.map((b) => [b.fieldSelection!.keys, b.fieldSelection!.values])).toEqual([
        [["id"], ["_meta/op", "flow_published_at", "n", "name", "nested/a", "tags"]],
        [["id"], ["_meta/op", "flow_published_at", "n", "name", "nested/a", "tags"]],
      ]);
      const rows = await db.admin.query(`SELECT id::int, name, n::int FROM "${schema}".things ORDER BY id`);
      const log = await db.admin.query(`SELECT count(*)::int AS n FROM "${schema}".things_log`);
      expect(rows.rows.length).toBeGreaterThan(0);
      outcomes.push({ things: rows.rows, log: log.rows[0].n });
      if (outcomes.length === 2) expect(outcomes[1]).toEqual(outcomes[0]);
    });
  });

  describe("materialize-redis", () => {
    const r = redis();
    const used: string[] = [];
    afterAll(async () => {
      for (const ns of used) await dropNamespace(r, ns);
      r.disconnect();
    });
    const outcomes: unknown[] = [];
    it.each(FORMS)("%s form", async (protocolForm) => {
      const ns = namespace();
      used.push(ns);
      const catalog = catalogFile({
        collections: { "acmeCo/things": THINGS },
        materializations: {
          "acmeCo/redis": {
            endpoint: { connector: { image: "ghcr.io/tributary-dev/materialize-redis:dev", config: { address: REDIS_URL, advanced: { internal_prefix: `${ns}:internal` } } } },
            bindings: [{ resource: { prefix: `${ns}:json` }, source: "acmeCo/things" }],
          },
        },
      });
      const res = await runMaterializePreview({ catalog, fixture: FIXTURE, protocolForm, grpcAddress: await grpcOf(transport, "materialize-redis"), timeoutMs: 60_000, log: quiet });
      expect(res.spec.wireSpec.linkedCollections.length).toBe(protocolForm === "newest" ? 1 : 0);
      const all = await snapshot(r, `${ns}:json`);
      const docs = Object.fromEntries(Object.entries(all).map(([k, v]) => [k.slice(ns.length), typeof v === "string" ? v.replace(/"uuid":"[^"]*"/g, '"uuid":"-"') : v]));
      expect(Object.keys(docs).length).toBeGreaterThan(0);
      outcomes.push(docs);
      if (outcomes.length === 2) expect(outcomes[1]).toEqual(outcomes[0]);
    });
  });
});
