/**
 * Capture previews against real connector processes: source-hello-world
 * (built with the SDK, run through `tributary run`) and a raw stdio script.
 * Needs a build first (`npx tsc -p .`).
 */
import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { runCapturePreview } from "../../src/harness/index.js";
import { repoRoot } from "../../src/harness/catalog.js";
import { createLogger } from "../../src/log.js";

const run = promisify(execFile);
const root = repoRoot();
const quiet = createLogger({ level: "error" });

function helloCatalog(rate: number, extra = ""): string {
  const dir = mkdtempSync(join(tmpdir(), "harness-capture-"));
  const path = join(dir, "flow.yaml");
  writeFileSync(join(dir, "greetings.schema.yaml"), "type: object\nproperties:\n  count: { type: integer }\n  message: { type: string }\nrequired: [count, message]\n");
  writeFileSync(join(dir, "config.yaml"), `rate: ${rate}\n${extra}`);
  writeFileSync(
    path,
    `collections:
  acmeCo/greetings:
    schema: greetings.schema.yaml
    key: [/count]
captures:
  acmeCo/hello:
    endpoint:
      connector:
        image: ghcr.io/estuary/source-hello-world:v1
        config: config.yaml
    bindings:
      - resource: { name: greetings }
        target: acmeCo/greetings
`,
  );
  return path;
}

function expectConsecutive(counts: number[], from = 1) {
  expect(counts.length).toBeGreaterThan(0);
  counts.forEach((c, i) => expect(c, `document ${i}`).toBe(from + i));
}

describe("capture preview of source-hello-world", () => {
  it("resumes across --sessions 2,2,3 with no gap or repeat (API)", async () => {
    // Bounded sessions end the preview by themselves: no fixed time window,
    // so a loaded machine only makes the test slower, never different.
    const txnsPerSession: number[] = [];
    const res = await runCapturePreview({
      catalog: helloCatalog(200),
      sessions: [2, 2, 3],
      timeoutMs: 120_000,
      log: quiet,
      onTransaction: (t) => {
        txnsPerSession[t.session] = (txnsPerSession[t.session] ?? 0) + 1;
      },
    });
    expect(res.stats.sessions).toBe(3);
    expect(txnsPerSession).toEqual([2, 2, 3]);
    expect(res.stats.timedOut).toBe(false);
    expect(res.documents.every(([c]) => c === "acmeCo/greetings")).toBe(true);
    const counts = res.documents.map(([, d]) => (d as { count: number }).count);
    expectConsecutive(counts);
    expect(res.documents[0]![1]).toEqual({ count: 1, message: "Hello #1" });
    expect(res.state).toEqual({ bindingStateV1: { greetings: { count: counts.at(-1) } } });
    expect(res.states.length).toBe(res.stats.transactions);
  });

  it("runs an unbounded session (-1) until the timeout", async () => {
    const res = await runCapturePreview({ catalog: helloCatalog(200), sessions: [-1], timeoutMs: 3000, log: quiet });
    expect(res.stats.timedOut).toBe(true);
    expect(res.stats.sessions).toBe(1);
    const counts = res.documents.map(([, d]) => (d as { count: number }).count);
    counts.forEach((c, i) => expect(c, `document ${i}`).toBe(1 + i));
  });

  it("prints documents and connector states, and resumes from --initial-state (CLI)", async () => {
    const catalog = helloCatalog(100);
    const { stdout } = await run(
      process.execPath,
      [join(root, "bin", "tributary"), "preview", "--source", catalog, "--name", "acmeCo/hello", "--sessions", "2,2,3", "--timeout", "120s", "--output-state", "--initial-state", '{"bindingStateV1":{"greetings":{"count":41}}}'],
      { env: { ...process.env, LOG_LEVEL: "warn" } },
    );
    const lines = stdout.trim().split("\n").map((l) => JSON.parse(l) as [string, any]);
    const docs = lines.filter(([k]) => k === "acmeCo/greetings").map(([, d]) => d.count as number);
    expectConsecutive(docs, 42);
    const states = lines.filter(([k]) => k === "connectorState").map(([, s]) => s);
    expect(states.length).toBeGreaterThanOrEqual(5);
    // Each state follows its transaction's documents and records the last count.
    let lastCount = 41;
    for (const [k, v] of lines) {
      if (k === "acmeCo/greetings") lastCount = v.count;
      else expect(v).toEqual({ bindingStateV1: { greetings: { count: lastCount } } });
    }
    expect(lines.at(-1)![0]).toBe("connectorState");
  });

  it("speaks protobuf and JSON alike", async () => {
    for (const codec of ["proto", "json"] as const) {
      const res = await runCapturePreview({ catalog: helloCatalog(0, "perCheckpoint: 5\n"), sessions: [3], codec, log: quiet });
      expect(res.stats.transactions).toBe(3);
      const counts = res.documents.map(([, d]) => (d as { count: number }).count);
      expectConsecutive(counts);
      expect(counts.length % 5).toBe(0);
    }
  });
});

describe("capture runtime rules", () => {
  function rawCatalog(scenario: string, opts: { protobuf?: boolean } = {}): string {
    const dir = mkdtempSync(join(tmpdir(), "harness-raw-"));
    const path = join(dir, "flow.yaml");
    writeFileSync(
      path,
      JSON.stringify({
        collections: {
          "acmeCo/things": {
            schema: {
              type: "object",
              reduce: { strategy: "merge" },
              properties: { id: { type: "integer" }, n: { type: "integer", reduce: { strategy: "sum" } } },
              required: ["id"],
            },
            key: ["/id"],
          },
        },
        captures: {
          "acmeCo/raw": {
            endpoint: {
              local: {
                command: ["node", "<repo>/test/support/raw-connectors/raw.mjs"],
                env: { RAW_SCENARIO: scenario, RAW_PROTOCOL: "capture" },
                protobuf: opts.protobuf === true,
              },
            },
            bindings: [{ resource: { stream: "x" }, target: "acmeCo/things" }],
          },
        },
      }),
    );
    return path;
  }

  it("folds checkpoints that arrive together, reduces by key, applies merge patches and replacements, and acknowledges", async () => {
    const res = await runCapturePreview({ catalog: rawCatalog("ack-and-reduce"), sessions: [2], log: quiet, initialState: { start: true } });
    expect(res.stats.transactions).toBe(2);
    expect(res.stats.checkpoints).toBe(3);
    expect(res.stats.acknowledgements).toBe(2);
    expect(res.documents).toEqual([
      ["acmeCo/things", { id: 1, n: 3 }],
      ["acmeCo/things", { id: 2, n: 5 }],
      // The connector saw Acknowledge{checkpoints: 2} for the folded transaction, and the initial state at Open.
      ["acmeCo/things", { id: 3, n: 0, acks: 2, state: { start: true } }],
    ]);
    expect(res.states).toEqual([{ start: true, a: 1, b: 2 }, { replaced: true }]);
  });
});
