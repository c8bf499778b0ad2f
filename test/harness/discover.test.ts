/**
 * `tributary discover`: the merge rules on a hand-edited catalog, and the
 * real command filling a catalog that `tributary preview` then runs (the
 * hello-world capture, and source-postgres against the local server). Needs
 * the build (`npm test` runs it first).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { parse, parseDocument } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { mergeDiscovered, resourceCovers } from "../../src/harness/catalog-merge.js";
import { repoRoot } from "../../src/harness/catalog.js";

const work = mkdtempSync(join(tmpdir(), "tributary-discover-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function tributary(args: string[]) {
  const r = spawnSync(process.execPath, [join(repoRoot(), "bin", "tributary"), ...args], { encoding: "utf8", timeout: 60_000, env: { ...process.env, LOG_LEVEL: "warn" } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("merging discovered bindings", () => {
  const catalog = `# Shop capture, edited by hand.
captures:
  acmeCo/shop/pg:
    endpoint:
      connector: { image: ghcr.io/x/source-postgres:dev, config: { address: "db:5432", user: u } }
    bindings:
      # renamed by the user, with a backfill bump and an extra resource field
      - resource: { namespace: public, stream: orders, mode: fast }
        target: acmeCo/shop/my-orders
        backfill: 2
      - resource: { namespace: public, stream: gone }
        target: acmeCo/shop/gone
collections:
  acmeCo/shop/my-orders:
    key: [/old]
    readSchema: { type: object }
    writeSchema: { type: object }
    projections: { total_amount: /total } # user's projection
`;
  const found = [
    { recommendedName: "public/orders", resource: { namespace: "public", stream: "orders" }, documentSchema: { type: "object", title: "orders" }, key: ["/id"], disable: false },
    { recommendedName: "public/customers", resource: { namespace: "public", stream: "customers" }, documentSchema: { type: "object", title: "customers" }, key: ["/cid"], disable: false },
    { recommendedName: "public/audit", resource: { namespace: "public", stream: "audit" }, documentSchema: { type: "object" }, key: [], disable: true },
  ];

  it("adds new bindings, keeps the user's, drops vanished ones, and updates collection schemas and keys", () => {
    const doc = parseDocument(catalog);
    const report = mergeDiscovered(doc, join(work, "flow.yaml"), "acmeCo/shop/pg", found);
    expect(report).toMatchObject({ added: ["acmeCo/shop/public/audit", "acmeCo/shop/public/customers"], kept: ["acmeCo/shop/my-orders"], removed: ["acmeCo/shop/gone"] });
    const out = doc.toString();
    const js = parse(out);
    expect(js.captures["acmeCo/shop/pg"].bindings).toEqual([
      { resource: { namespace: "public", stream: "audit" }, target: "acmeCo/shop/public/audit", disable: true },
      { resource: { namespace: "public", stream: "customers" }, target: "acmeCo/shop/public/customers" },
      { resource: { namespace: "public", stream: "orders", mode: "fast" }, target: "acmeCo/shop/my-orders", backfill: 2 },
    ]);
    const orders = js.collections["acmeCo/shop/my-orders"];
    // A collection with a readSchema gets the discovered writeSchema; the rest is the user's.
    expect(orders).toEqual({ key: ["/id"], readSchema: { type: "object" }, writeSchema: { type: "object", title: "orders" }, projections: { total_amount: "/total" } });
    expect(js.collections["acmeCo/shop/public/customers"]).toEqual({ key: ["/cid"], schema: { type: "object", title: "customers" } });
    // No discovered key: the new collection has none to offer, and an existing key would be kept.
    expect(js.collections["acmeCo/shop/public/audit"]).toEqual({ schema: { type: "object" } });
    for (const comment of ["# Shop capture, edited by hand.", "# renamed by the user", "# user's projection"]) expect(out).toContain(comment);
  });

  it("matches a binding whose resource holds every discovered location, and no other", () => {
    expect(resourceCovers({ namespace: "public", stream: "orders", mode: "fast" }, { namespace: "public", stream: "orders" })).toBe(true);
    expect(resourceCovers({ namespace: "public", stream: "orders" }, { namespace: "public", stream: "orders", extra: 1 })).toBe(false);
    expect(resourceCovers({ namespace: "other", stream: "orders" }, { namespace: "public", stream: "orders" })).toBe(false);
  });

  it("rewrites a schema kept in its own file, and refuses a capture that is not in the file", () => {
    const doc = parseDocument(catalog.replace("writeSchema: { type: object }", "writeSchema: orders.schema.json"));
    const report = mergeDiscovered(doc, join(work, "flow.yaml"), "acmeCo/shop/pg", found);
    expect(report.files).toEqual([{ path: join(work, "orders.schema.json"), text: JSON.stringify({ type: "object", title: "orders" }, null, 2) + "\n" }]);
    expect(parse(doc.toString()).collections["acmeCo/shop/my-orders"].writeSchema).toBe("orders.schema.json");
    expect(() => mergeDiscovered(parseDocument(catalog), "x.yaml", "acmeCo/other", found)).toThrow(/capture "acmeCo\/other" is not defined in x.yaml/);
  });
});

describe("tributary discover", () => {
  it("fills a hello-world catalog that preview then runs, and a second discover changes nothing", () => {
    const path = join(work, "hello.flow.yaml");
    const start = `# Only the endpoint; discover adds the rest.
captures:
  acmeCo/hello:
    endpoint:
      connector:
        image: ghcr.io/tributary-dev/source-hello-world:dev
        config: { rate: 0 }
`;
    writeFileSync(path, start);
    const d = tributary(["discover", "--source", path]);
    expect(d.stderr).toContain("discovered 1 binding of acmeCo/hello: added acmeCo/greetings");
    expect(d.status).toBe(0);
    const filled = readFileSync(path, "utf8");
    expect(filled.startsWith(start)).toBe(true);
    expect(parse(filled).collections["acmeCo/greetings"].key).toEqual(["/count"]);

    const p = tributary(["preview", "--source", path, "--name", "acmeCo/hello", "--sessions", "2"]);
    expect(p.status).toBe(0);
    // Two transactions; the runtime may fold several checkpoints into one, so at least two greetings, in order.
    const docs = p.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(docs.length).toBeGreaterThanOrEqual(2);
    docs.forEach(([collection, doc], i) => expect([collection, doc]).toEqual(["acmeCo/greetings", { count: i + 1, message: `Hello #${i + 1}` }]));

    expect(tributary(["discover", "--source", path, "--name", "acmeCo/hello"]).status).toBe(0);
    expect(readFileSync(path, "utf8")).toBe(filled);
  });

  it("writes a table's columns and key from source-postgres, and --dry-run prints the same without writing", async () => {
    const url = process.env.PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
    const schema = `disc_${process.pid}_${Date.now().toString(36)}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA ${schema}`);
      await admin.query(`CREATE TABLE ${schema}.orders (id bigint PRIMARY KEY, customer text NOT NULL, total numeric(12,2))`);
      const u = new URL(url);
      const config = { address: `${u.hostname}:${u.port || 5432}`, database: u.pathname.slice(1), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password), sslmode: "disable", schemas: [schema] };
      const path = join(work, "pg.flow.json");
      const start = JSON.stringify({ captures: { "acmeCo/shop/pg": { endpoint: { connector: { image: "ghcr.io/x/source-postgres:dev", config } } } } }, null, 2) + "\n";
      writeFileSync(path, start);

      const dry = tributary(["discover", "--source", path, "--dry-run"]);
      expect(dry.status).toBe(0);
      expect(readFileSync(path, "utf8")).toBe(start);
      const r = tributary(["discover", "--source", path]);
      expect(r.status).toBe(0);
      const js = JSON.parse(readFileSync(path, "utf8"));
      expect(JSON.parse(dry.stdout)).toEqual(js);
      expect(js.captures["acmeCo/shop/pg"].bindings).toEqual([{ resource: { namespace: schema, stream: "orders" }, target: `acmeCo/shop/${schema}/orders` }]);
      const coll = js.collections[`acmeCo/shop/${schema}/orders`];
      expect(coll.key).toEqual(["/id"]);
      expect(Object.keys(coll.schema.properties)).toEqual(expect.arrayContaining(["id", "customer", "total", "_meta"]));
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
  });
});
