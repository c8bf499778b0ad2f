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
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMaterializePreview } from "../../src/harness/materialize-runtime.js";
import { CRASH_POINTS, type CrashPoint } from "../../src/harness/faults.js";
import { createLogger } from "../../src/log.js";
import { REPO } from "../../test/support/process.js";
import { imageMaterialization, thingsCollection, writeCatalog } from "../../test/support/things-harness.js";
import { Receiver } from "./test-support.js";

const FIXTURE = join(REPO, "test/harness/fixtures/things.jsonl");
const receivers: Receiver[] = [];
afterAll(async () => {
  for (const r of receivers) await r.stop();
});

function catalog(url: string): string {
  // One document per request, so a crash in the middle of the Stores leaves
  // some of a transaction's requests sent and others not.
  const config = { url, batch_size: 1, retry: { max_attempts: 3, initial_backoff_ms: 10 } };
  return writeCatalog(
    "webhook-harness-",
    thingsCollection() + imageMaterialization("materialize-webhook", "webhook", config, ['{ path: "things" }', '{ path: "again" }']),
  );
}

// Documents carry a `_meta/uuid` the harness derives from the fixture's file
// time and line; runs share both, but compare content only.
const content = (docs: unknown[]) => docs.map((d) => JSON.stringify(d).replace(/"uuid":"[^"]*"/g, '"uuid":"-"'));
const byPath = (docs: Record<string, unknown[]>) => Object.fromEntries(Object.entries(docs).map(([p, d]) => [p, content(d)]));

/**
 * One run. The connector cannot tell whether the receiver de-duplicates (it
 * answers 2xx either way), so one run gives both receivers' views: `dedup`,
 * the first request of each key; `plain`, every request.
 */
async function run(crashAt?: CrashPoint, shards = 1) {
  const r = await new Receiver(true).start();
  receivers.push(r);
  const res = await runMaterializePreview({
    catalog: catalog(r.url),
    fixture: FIXTURE,
    crashAt,
    shards,
    log: createLogger({ level: process.env.TEST_LOG ?? "error" }),
    timeoutMs: 60_000,
  });
  return { res, dedup: byPath(r.docsByPath()), plain: byPath(r.docsByPath(r.posted)) };
}

/** `got` holds every document of `want` (as many times), and anything more is a repeat of one of them. */
function expectOnlyRepeats(got: Record<string, string[]>, want: Record<string, string[]>): number {
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  let repeats = 0;
  for (const [path, docs] of Object.entries(want)) {
    const left = [...got[path]!];
    for (const d of docs) {
      const i = left.indexOf(d);
      expect(i, `${path}: a document of the crash-free run is missing`).toBeGreaterThanOrEqual(0);
      left.splice(i, 1);
    }
    for (const extra of left) expect(docs).toContain(extra);
    repeats += left.length;
  }
  return repeats;
}

const POINTS = CRASH_POINTS.flatMap((p) => (p === "after-open" ? [1] : [1, 2]).map((txn) => [p, txn] as const));

describe("materialize-webhook under the runtime harness", () => {
  let baseline: Record<string, string[]>;
  beforeAll(async () => {
    const { res, dedup, plain } = await run();
    expect(res.stats.crashes).toBe(0);
    expect(plain).toEqual(dedup); // no failure, no repeat
    baseline = dedup;
  });

  it("POSTs every document of every transaction once, to each binding's URL", () => {
    const ids = (docs: string[]) => docs.map((d) => JSON.parse(d).id);
    // Per transaction, the runtime combines a key's documents and stores them in key order.
    expect(ids(baseline["/hooks/things"]!)).toEqual([1, 2, 1, 3, 2, 4, 3, 5]);
    expect(baseline["/hooks/again"]).toEqual(baseline["/hooks/things"]);
  });

  const repeated: string[] = [];
  it.each(POINTS)(
    "after a crash at %s of transaction %i: a de-duplicating receiver has exactly the crash-free documents, a plain one all of them plus only repeats",
    async (point, txn) => {
      const { res, dedup, plain } = await run({ point, txn });
      expect(res.stats.crashes).toBe(1);
      expect(dedup).toEqual(baseline);
      if (expectOnlyRepeats(plain, baseline) > 0) repeated.push(`${point}:${txn}`);
    },
  );

  // Only after StartedCommit are repeats certain: every batch was confirmed
  // before it, and the runtime re-runs the uncommitted transaction. A crash
  // right after StartCommit may come before the last batch was posted, so
  // whether the receiver saw repeats then depends on timing.
  it("crashes between StartedCommit and the log commit did make the plain receiver see repeats (so de-duplication had work to do)", () => {
    expect(repeated).toContain("after-started-commit:1");
    expect(repeated).toContain("after-started-commit:2");
  });

  it("split across two shards with a crash: no shard's batch is taken for another's (the de-duplicated documents are the crash-free ones), and the plain receiver saw repeats", async () => {
    const { res, dedup, plain } = await run({ point: "after-started-commit", txn: 1 }, 2);
    expect(res.shards.map((s) => s.name)).toEqual(["00000000-7fffffff", "80000000-ffffffff"]);
    // Shards interleave, so compare each path's documents as a multiset.
    const sorted = (m: Record<string, string[]>) => Object.fromEntries(Object.entries(m).map(([p, d]) => [p, [...d].sort()]));
    expect(sorted(dedup)).toEqual(sorted(baseline));
    expect(expectOnlyRepeats(plain, baseline)).toBeGreaterThan(0);
  });
});
