/**
 * The images end to end, as Flow's runtime would run them, through
 * `tributary preview`: the source-hello-world image captures three
 * transactions of greetings, which are then materialized by the
 * materialize-postgres image (killed once after a started commit) and by
 * the materialize-redis image. Every connector runs through its image's
 * exact ENTRYPOINT (a `local` endpoint whose command is images/run.sh). The
 * same previews run from the checkout (`connector: image:` endpoints, which
 * the harness runs as `tributary run <name>`) must capture the same
 * greetings and leave the same rows, keys and summaries.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PG_URL, endpointConfig, uniqueSchema } from "../../connectors/materialize-postgres/test-support.js";
import { REDIS_URL } from "../../connectors/materialize-redis/test-support.js";
import { REPO } from "../support/process.js";
import { Container, IMAGE_TAG, RUN_SH, imageRef } from "./buildah.js";

const run = promisify(execFile);
const GREETINGS = {
  schema: { type: "object", properties: { count: { type: "integer" }, message: { type: "string" } }, required: ["count", "message"] },
  key: ["/count"],
};

type Variant = "image" | "checkout";
const containers = new Map<string, Container>();

/** An endpoint running `connector` from its image, or from the checkout. */
function endpoint(variant: Variant, connector: string, config: unknown) {
  if (variant === "checkout") return { connector: { image: imageRef(connector), config } };
  const c = containers.get(connector)!;
  return { local: { command: [RUN_SH, "--container", c.name, c.ref], protobuf: true, config } };
}

/** Writes a catalog of the greetings collection with `tasks` to a temp file. */
function catalog(tasks: { captures?: object; materializations?: object }): string {
  const file = join(mkdtempSync(join(tmpdir(), "image-preview-")), "flow.json");
  writeFileSync(file, JSON.stringify({ collections: { "acmeCo/greetings": GREETINGS }, ...tasks }));
  return file;
}

async function preview(args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [`${REPO}bin/tributary`, "preview", ...args], {
    env: { ...process.env, LOG_LEVEL: "warn" },
    maxBuffer: 64 << 20,
  });
  return stdout;
}

/** Three transactions of greetings captured by hello-world, as fixture lines. */
async function capture(variant: Variant): Promise<string> {
  const file = catalog({
    captures: {
      "acmeCo/hello": {
        endpoint: endpoint(variant, "source-hello-world", { rate: 0, perCheckpoint: 10 }),
        bindings: [{ resource: { name: "greetings" }, target: "acmeCo/greetings" }],
      },
    },
  });
  return preview(["--source", file, "--name", "acmeCo/hello", "--sessions", "2,1", "--output-commits"]);
}

/** Materializes `fixture` to `target`; the summary, without timings and temp paths. */
async function materialize(variant: Variant, fixture: string, target: { connector: string; config: unknown; resource: unknown }, extra: string[] = []) {
  const file = catalog({
    materializations: {
      "acmeCo/out": {
        endpoint: endpoint(variant, target.connector, target.config),
        bindings: [{ resource: target.resource, source: "acmeCo/greetings" }],
      },
    },
  });
  const out = await preview(["--source", file, "--name", "acmeCo/out", "--fixture", fixture, ...extra]);
  const summary = JSON.parse(out.trim().split("\n").at(-1)!);
  delete summary.stats.elapsedMs;
  for (const shard of summary.shards) delete shard.recoveryLog;
  return summary;
}

let fixture = "";

describe.skipIf(!IMAGE_TAG)("tributary preview with the images as connectors", { timeout: 240_000 }, () => {
  beforeAll(async () => {
    for (const name of ["source-hello-world", "materialize-postgres", "materialize-redis"]) {
      containers.set(name, await Container.create(imageRef(name)));
    }
  });
  afterAll(async () => {
    for (const c of containers.values()) await c.remove();
  });

  it("the hello-world image captures what the checkout captures", async () => {
    const image = await capture("image");
    const checkout = await capture("checkout");
    const docs = (text: string) => text.trim().split("\n").filter((l) => l.startsWith("["));
    const commits = (text: string) => text.trim().split("\n").filter((l) => l === '{"commit":true}').length;
    // Checkpoints arriving while a transaction commits join the next one,
    // so how many greetings three transactions hold depends on timing.
    expect(commits(image)).toBe(3);
    expect(commits(checkout)).toBe(3);
    const [a, b] = [docs(image), docs(checkout)];
    expect(a.length).toBeGreaterThanOrEqual(30);
    expect(a.slice(0, b.length)).toEqual(b.slice(0, a.length));
    fixture = join(mkdtempSync(join(tmpdir(), "image-fixture-")), "greetings.jsonl");
    writeFileSync(fixture, image);
  });

  it("materialize-postgres, killed after a started commit, leaves the checkout's rows", async () => {
    expect(fixture, "needs the capture above").not.toBe("");
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    const schemas = { image: uniqueSchema("imgpv"), checkout: uniqueSchema("chkpv") };
    try {
      const rows: Record<string, unknown[]> = {};
      const summaries: Record<string, unknown> = {};
      for (const variant of ["image", "checkout"] as const) {
        const target = { connector: "materialize-postgres", config: endpointConfig(schemas[variant]), resource: { table: "greetings" } };
        await admin.query(`CREATE SCHEMA ${schemas[variant]}`);
        const summary = await materialize(variant, fixture, target, ["--crash-at", "after-started-commit:2"]);
        summary.applied = summary.applied.replaceAll(schemas[variant], "<schema>");
        summaries[variant] = summary;
        rows[variant] = (await admin.query(`SELECT count::text, message FROM ${schemas[variant]}.greetings ORDER BY count`)).rows;
      }
      expect((summaries.image as { stats: { crashes: number } }).stats.crashes).toBe(1);
      expect(summaries.image).toEqual(summaries.checkout);
      expect(rows.image!.length).toBeGreaterThanOrEqual(30);
      expect(rows.image).toEqual(rows.checkout);
    } finally {
      for (const s of Object.values(schemas)) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
      await admin.end();
    }
  });

  it("materialize-redis leaves the checkout's keys", async () => {
    expect(fixture, "needs the capture above").not.toBe("");
    const redis = new Redis(REDIS_URL);
    const ns = { image: `imgpv-${process.pid}-${Date.now()}`, checkout: `chkpv-${process.pid}-${Date.now()}` };
    try {
      const docs: Record<string, Record<string, unknown>> = {};
      const summaries: Record<string, unknown> = {};
      for (const variant of ["image", "checkout"] as const) {
        const config = { address: REDIS_URL, advanced: { internal_prefix: `${ns[variant]}:internal` } };
        summaries[variant] = await materialize(variant, fixture, { connector: "materialize-redis", config, resource: { prefix: `${ns[variant]}:g` } });
        const got: Record<string, unknown> = {};
        for (const k of await redis.keys(`${ns[variant]}:g:*`)) {
          const { _meta, ...doc } = JSON.parse((await redis.get(k))!);
          got[k.slice(ns[variant].length)] = doc;
        }
        docs[variant] = got;
      }
      expect(summaries.image).toEqual(summaries.checkout);
      expect(Object.keys(docs.image!).length).toBeGreaterThanOrEqual(30);
      expect(docs.image).toEqual(docs.checkout);
    } finally {
      for (const p of Object.values(ns)) {
        const keys = await redis.keys(`${p}:*`);
        if (keys.length) await redis.del(...keys);
      }
      redis.disconnect();
    }
  });
});
