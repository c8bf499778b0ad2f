/**
 * The resource capture layer, driven by the harness over real gRPC: a
 * connector declaring one resource backed by an in-memory source (rows read
 * by pages for the backfill, an append-only change log read incrementally),
 * served in this process by serveGrpc.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCapturePreview } from "../../src/harness/index.js";
import { serveGrpc } from "../../src/transport/grpc.js";
import { createLogger } from "../../src/log.js";
import { resourceCapture, TransientError } from "../../src/sdk/index.js";

const quiet = createLogger({ level: "error" });

interface Config {
  bounded: boolean;
}

/** The source: rows backfilled three per page, and a change log of new rows. */
const source = {
  rows: Array.from({ length: 10 }, (_, i) => ({ id: i + 1, v: "row" })),
  changes: [] as { id: number; v: string }[],
  /** Transient failures still to throw from fetchPage. */
  flaky: 0,
  /** When set, fetchPage fails with this non-transient error. */
  broken: undefined as string | undefined,
};

const connector = resourceCapture<Config, { name: string }>({
  name: "source-test-resources",
  documentationUrl: "https://example.com",
  configSchema: { type: "object", properties: { bounded: { type: "boolean", default: false } } },
  bounded: (c) => c.bounded,
  retry: { attempts: 3, initialMs: 5, maxMs: 20 },
  resources: () => [
    {
      name: "rows",
      key: ["/id"],
      schema: { type: "object", properties: { id: { type: "integer" }, v: { type: "string" } }, required: ["id"] },
      initialCursor: () => ({ seq: source.changes.length }),
      async fetchPage(after: number | undefined) {
        if (source.broken) throw new Error(source.broken);
        if (source.flaky > 0) {
          source.flaky--;
          throw new TransientError("the source is busy");
        }
        const docs = source.rows.filter((r) => r.id > (after ?? 0)).slice(0, 3);
        return { docs, next: docs.length === 3 ? docs[2]!.id : undefined };
      },
      async fetchChanges({ seq }: { seq: number }) {
        const docs = source.changes.slice(seq, seq + 2);
        return { docs, cursor: { seq: seq + docs.length }, caughtUp: seq + docs.length === source.changes.length };
      },
      intervalMs: 10,
    },
  ],
});

let address = "";
let close: () => Promise<void>;
beforeAll(async () => {
  const server = await serveGrpc(connector, { port: 0, log: quiet });
  address = `127.0.0.1:${server.port}`;
  close = async () => {
    await server.close(0);
  };
});
afterAll(() => close());

function catalog(opts: { bounded: boolean; backfill?: number }): string {
  const dir = mkdtempSync(join(tmpdir(), "sdk-resources-"));
  const path = join(dir, "flow.json");
  writeFileSync(
    path,
    JSON.stringify({
      collections: { "acmeCo/rows": { schema: { type: "object", properties: { id: { type: "integer" }, v: { type: "string" } }, required: ["id"] }, key: ["/id"] } },
      captures: {
        "acmeCo/source": {
          endpoint: { local: { command: ["unused"], config: { bounded: opts.bounded } } },
          bindings: [{ resource: { name: "rows" }, target: "acmeCo/rows", backfill: opts.backfill ?? 0 }],
        },
      },
    }),
  );
  return path;
}

function reset() {
  source.changes = [];
  source.flaky = 0;
  source.broken = undefined;
}

const ids = (docs: [string, unknown][]) => docs.map(([, d]) => (d as { id: number }).id);

describe("resource capture layer", () => {
  it("resumes exactly across restarts after every transaction, interleaving changes with the backfill, and a bounded read ends by itself", async () => {
    reset();
    let next = 100;
    const res = await runCapturePreview({
      catalog: catalog({ bounded: true }),
      grpcAddress: address,
      sessions: [2, 2, 2, 2, 2, -1],
      // A transaction per checkpoint with documents, so that sessions end mid-backfill.
      maxTxnDocs: 1,
      timeoutMs: 20_000,
      log: quiet,
      // A new row arrives at the source after each transaction.
      onTransaction: () => {
        if (next < 106) source.changes.push({ id: next++, v: "new" });
      },
    });
    expect(res.stats.timedOut).toBe(false);
    expect(res.stats.sessions).toBe(6);
    const got = ids(res.documents);
    // Every row and every change exactly once: no duplicate, no gap.
    expect([...got].sort((a, b) => a - b)).toEqual([...source.rows.map((r) => r.id), ...source.changes.map((c) => c.id)]);
    expect(source.changes.length).toBeGreaterThan(0);
    // Changes were read while the backfill was still going.
    expect(got.indexOf(100)).toBeLessThan(got.indexOf(10));
    expect(res.stats.backfillBegins).toBe(1);
    expect(res.stats.backfillCompletes).toBe(1);
    const entry = (res.state as any).bindingStateV1;
    expect(Object.values(entry)).toEqual([{ counter: 0, backfilled: true, changes: { seq: source.changes.length } }]);
  });

  it("starts the backfill again when the binding's backfill counter is bumped, and not otherwise", async () => {
    reset();
    const first = await runCapturePreview({ catalog: catalog({ bounded: true }), grpcAddress: address, sessions: [-1], timeoutMs: 20_000, log: quiet });
    expect(ids(first.documents).sort((a, b) => a - b)).toEqual(source.rows.map((r) => r.id));

    const again = await runCapturePreview({ catalog: catalog({ bounded: true }), grpcAddress: address, sessions: [-1], timeoutMs: 20_000, initialState: first.state, log: quiet });
    expect(again.documents).toEqual([]);
    expect(again.stats.backfillBegins).toBe(0);

    const bumped = await runCapturePreview({ catalog: catalog({ bounded: true, backfill: 1 }), grpcAddress: address, sessions: [-1], timeoutMs: 20_000, initialState: first.state, log: quiet });
    expect(ids(bumped.documents).sort((a, b) => a - b)).toEqual(source.rows.map((r) => r.id));
    expect([bumped.stats.backfillBegins, bumped.stats.backfillCompletes]).toEqual([1, 1]);
  });

  it("sends each backfill marker alone in its checkpoint", async () => {
    reset();
    // The harness fails a session whose marker shares its checkpoint; count the checkpoints around them.
    const res = await runCapturePreview({ catalog: catalog({ bounded: true }), grpcAddress: address, sessions: [-1], timeoutMs: 20_000, maxTxnDocs: 1, log: quiet });
    expect(res.stats.timedOut).toBe(false);
    expect([res.stats.backfillBegins, res.stats.backfillCompletes]).toEqual([1, 1]);
    // Begin, four pages (the last one short), complete, one caught-up change read with nothing new.
    expect(res.stats.checkpoints).toBe(6);
  });

  it("retries transient errors with backoff, and fails on others naming the resource", async () => {
    reset();
    source.flaky = 2;
    const res = await runCapturePreview({ catalog: catalog({ bounded: true }), grpcAddress: address, sessions: [-1], timeoutMs: 20_000, log: quiet });
    expect(source.flaky).toBe(0);
    expect(ids(res.documents).sort((a, b) => a - b)).toEqual(source.rows.map((r) => r.id));

    source.flaky = 3;
    await expect(runCapturePreview({ catalog: catalog({ bounded: true }), grpcAddress: address, sessions: [-1], timeoutMs: 20_000, log: quiet })).rejects.toThrow(
      /resource rows: fetchPage failed 3 times with transient errors; the last: the source is busy/,
    );

    reset();
    source.broken = "permission denied";
    await expect(runCapturePreview({ catalog: catalog({ bounded: true }), grpcAddress: address, sessions: [-1], timeoutMs: 20_000, log: quiet })).rejects.toThrow(/permission denied/);
  });

  it("runs until stopped when unbounded", async () => {
    reset();
    const res = await runCapturePreview({ catalog: catalog({ bounded: false }), grpcAddress: address, sessions: [-1], timeoutMs: 1500, log: quiet });
    expect(res.stats.timedOut).toBe(true);
    expect(ids(res.documents).sort((a, b) => a - b)).toEqual(source.rows.map((r) => r.id));
  });
});
