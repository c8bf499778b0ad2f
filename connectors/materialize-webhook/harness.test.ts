/**
 * materialize-webhook as a real process under the runtime harness
 * (src/harness), POSTing to a real local receiver, at every crash point of
 * the harness:
 *   - a receiver that de-duplicates by the idempotency key ends with exactly
 *     the documents of a run without crashes, in the same order;
 *   - one that does not ends with every document of that run, and anything
 *     more is a repeat of one of them (at-least-once).
 *
 * Needs `npx tsc -p .` first (the harness runs the image's entry point,
 * `tributary run materialize-webhook`, from this checkout).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMaterializePreview } from "../../src/harness/materialize-runtime.js";
import { CRASH_POINTS, type CrashPoint } from "../../src/harness/faults.js";
import { createLogger } from "../../src/log.js";
import { REPO } from "../../test/support/process.js";
import { Receiver } from "./test-support.js";

const FIXTURE = join(REPO, "test/harness/fixtures/things.jsonl");
const receivers: Receiver[] = [];
afterAll(async () => {
  for (const r of receivers) await r.stop();
});

function catalog(url: string): string {
  const dir = mkdtempSync(join(tmpdir(), "webhook-harness-"));
  const path = join(dir, "flow.yaml");
  // One document per request, so a crash in the middle of the Stores leaves
  // some of a transaction's requests sent and others not.
  const config = { url, batch_size: 1, retry: { max_attempts: 3, initial_backoff_ms: 10 } };
  writeFileSync(
    path,
    `collections:
  acmeCo/things:
    schema:
      type: object
      properties:
        id: { type: integer }
        name: { type: string }
        n: { type: integer, reduce: { strategy: sum } }
        _meta: { type: object, properties: { op: { type: string } } }
      required: [id]
      reduce: { strategy: merge }
    key: [/id]
materializations:
  acmeCo/webhook:
    endpoint:
      connector:
        image: ghcr.io/tributary-dev/materialize-webhook:dev
        config: ${JSON.stringify(config)}
    bindings:
      - resource: { path: "things" }
        source: acmeCo/things
      - resource: { path: "again" }
        source: acmeCo/things
`,
  );
  return path;
}

// Documents carry a `_meta/uuid` the harness derives from the fixture's file
// time and line; runs share both, but compare content only.
const content = (docs: unknown[]) => docs.map((d) => JSON.stringify(d).replace(/"uuid":"[^"]*"/g, '"uuid":"-"'));

async function run(dedup: boolean, crashAt?: CrashPoint) {
  const r = await new Receiver(dedup).start();
  receivers.push(r);
  const res = await runMaterializePreview({
    catalog: catalog(r.url),
    fixture: FIXTURE,
    crashAt,
    log: createLogger({ level: process.env.TEST_LOG ?? "error" }),
    timeoutMs: 60_000,
  });
  const docs = r.docsByPath();
  return { res, got: Object.fromEntries(Object.entries(docs).map(([p, d]) => [p, content(d)])) };
}

const POINTS = CRASH_POINTS.flatMap((p) => (p === "after-open" ? [1] : [1, 2]).map((txn) => [p, txn] as const));

describe("materialize-webhook under the runtime harness", () => {
  let baseline: Record<string, string[]>;
  beforeAll(async () => {
    const { res, got } = await run(true);
    expect(res.stats.crashes).toBe(0);
    baseline = got;
  });

  it("POSTs every document of every transaction once, to each binding's URL", () => {
    const ids = (docs: string[]) => docs.map((d) => JSON.parse(d).id);
    // The runtime combines a key's documents within a transaction.
    expect(ids(baseline["/hooks/things"]!)).toEqual([1, 2, 1, 3, 2, 4, 3, 5]);
    expect(baseline["/hooks/again"]).toEqual(baseline["/hooks/things"]);
  });

  it.each(POINTS)("a receiver that de-duplicates by key gets exactly the crash-free documents after a crash at %s of transaction %i", async (point, txn) => {
    const { res, got } = await run(true, { point, txn });
    expect(res.stats.crashes).toBe(1);
    expect(got).toEqual(baseline);
  });

  const duplicated: string[] = [];
  it.each(POINTS)("a receiver that does not de-duplicate loses nothing after a crash at %s of transaction %i, and gets only repeats besides", async (point, txn) => {
    const { res, got } = await run(false, { point, txn });
    expect(res.stats.crashes).toBe(1);
    expect(Object.keys(got).sort()).toEqual(Object.keys(baseline).sort());
    for (const [path, want] of Object.entries(baseline)) {
      const left = [...got[path]!];
      for (const d of want) {
        const i = left.indexOf(d);
        expect(i, `${path}: a document of the crash-free run is missing`).toBeGreaterThanOrEqual(0);
        left.splice(i, 1);
      }
      for (const extra of left) expect(want).toContain(extra);
      if (left.length > 0) duplicated.push(`${point}:${txn}`);
    }
  });

  it("the receiver that does not de-duplicate did see repeats (so the de-duplicating runs had something to drop)", () => {
    expect(duplicated).toContain("after-started-commit:1");
    expect(duplicated).toContain("after-start-commit:2");
  });
});
