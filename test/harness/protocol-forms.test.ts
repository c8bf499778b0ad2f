/**
 * The harness speaks the newest protocol form by default and the legacy one
 * on request, and checks the newest rules: backfill markers alone in their
 * checkpoints (and unknown to older runtimes), projection constraints that
 * agree with the legacy map and cover the selected fields.
 */
import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProtocolViolation, runCapturePreview, runMaterializePreview } from "../../src/harness/index.js";
import type { ProtocolForm } from "../../src/harness/protocol-form.js";
import { createLogger } from "../../src/log.js";

const quiet = createLogger({ level: "error" });
const SCHEMA = { type: "object", properties: { id: { type: "integer" }, n: { type: "integer" } }, required: ["id"] };

function catalog(kind: "capture" | "materialize", scenario: string): { path: string; fixture: string } {
  const dir = mkdtempSync(join(tmpdir(), "harness-forms-"));
  const path = join(dir, "flow.json");
  const endpoint = { local: { command: ["node", "<repo>/test/support/raw-connectors/raw.mjs"], env: { RAW_SCENARIO: scenario, RAW_PROTOCOL: kind } } };
  const doc: Record<string, unknown> = { collections: { "acmeCo/things": { schema: SCHEMA, key: ["/id"] } } };
  if (kind === "capture") doc.captures = { "acmeCo/raw": { endpoint, bindings: [{ resource: { stream: "x" }, target: "acmeCo/things" }] } };
  else doc.materializations = { "acmeCo/raw": { endpoint, bindings: [{ resource: { table: "a" }, source: "acmeCo/things" }] } };
  writeFileSync(path, JSON.stringify(doc));
  const fixture = join(dir, "fixture.jsonl");
  writeFileSync(fixture, '["acmeCo/things", {"id": 1, "n": 1}]\n{"commit": true}\n');
  return { path, fixture };
}

async function violation(p: Promise<unknown>): Promise<ProtocolViolation> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ProtocolViolation) return err;
    throw err;
  }
  throw new Error("expected a protocol violation, but the preview succeeded");
}

// The raw sessions hold their stream open: stop at the first committed transaction.
const capture = (scenario: string, protocolForm?: ProtocolForm) =>
  runCapturePreview({ catalog: catalog("capture", scenario).path, timeoutMs: 20_000, log: quiet, protocolForm, onTransaction: () => false });
const materialize = (scenario: string, protocolForm?: ProtocolForm) => {
  const c = catalog("materialize", scenario);
  return runMaterializePreview({ catalog: c.path, fixture: c.fixture, timeoutMs: 20_000, log: quiet, protocolForm });
};

describe("capture backfill markers", () => {
  it("are accepted alone in their checkpoints", async () => {
    const res = await capture("backfill-markers-alone");
    expect(res.stats.backfillBegins).toBe(1);
    expect(res.stats.backfillCompletes).toBe(1);
    expect(res.state).toEqual({ began: true, done: true });
    expect(res.documents).toEqual([["acmeCo/things", { id: 1, n: 1 }]]);
  });

  it("are refused after a document of the same checkpoint", async () => {
    const v = await violation(capture("backfill-marker-with-docs"));
    expect(v.rule).toBe("backfill-marker-alone");
    expect(v.offending).toBe("capture.Response.BackfillBegin");
  });

  it("are refused when a document follows before their checkpoint", async () => {
    const v = await violation(capture("backfill-marker-then-doc"));
    expect(v.rule).toBe("backfill-marker-alone");
    expect(v.offending).toBe("capture.Response.Captured");
  });

  it("are refused in the legacy form, whose runtime does not know them", async () => {
    const v = await violation(capture("backfill-markers-alone", "legacy"));
    expect(v.rule).toBe("backfill-marker-unknown");
  });

  it("go through the capture built in each form, with linked collections only in the newest", async () => {
    const newest = await capture("one-checkpoint");
    expect(newest.spec.wireSpec.linkedCollections.map((c) => c.name)).toEqual(["acmeCo/things"]);
    expect(newest.spec.wireSpec.bindings[0]!.collection).toBeUndefined();
    const legacy = await capture("one-checkpoint", "legacy");
    expect(legacy.spec.wireSpec.linkedCollections).toEqual([]);
    expect(legacy.spec.wireSpec.bindings[0]!.collection!.name).toBe("acmeCo/things");
    // The version names the task, whatever the form it is sent in.
    expect(newest.spec.version).toBe(legacy.spec.version);
  });
});

describe("capture Apply", () => {
  it("is called again with the reduced state while Applied carries a state update, and Open gets that state", async () => {
    const res = await capture("capture-apply-rounds");
    expect(res.applyDescription).toBe('drained\napplied after {"drained":true}');
    expect(res.state).toEqual({ drained: true, one: true });
  });
});

describe("materialization constraints", () => {
  it("a connector answering in both forms is accepted in both", async () => {
    for (const form of ["newest", "legacy"] as const) {
      const res = await materialize("", form);
      expect(res.stats.stores).toBe(1);
      expect(res.spec.spec.bindings[0]!.fieldSelection!.keys).toEqual(["id"]);
      expect(res.spec.wireSpec.linkedCollections.length).toBe(form === "newest" ? 1 : 0);
    }
  });

  it("only the legacy map: refused in the newest form (every field would be forbidden), accepted in the legacy form", async () => {
    const v = await violation(materialize("mat-legacy-constraints-only"));
    expect(v.rule).toBe("projection-constraints-missing");
    expect(v.message).toMatch(/would forbid every field/);
    const res = await materialize("mat-legacy-constraints-only", "legacy");
    expect(res.stats.stores).toBe(1);
  });

  it("the two forms disagreeing", async () => {
    const v = await violation(materialize("mat-constraint-forms-disagree"));
    expect(v.rule).toBe("constraint-forms-disagree");
    expect(v.message).toMatch(/field "[^"]+" is type 5 in projection_constraints but type 4 in the constraints map/);
  });
});
