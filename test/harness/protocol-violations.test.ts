/**
 * One test per protocol rule the harness enforces, each against a raw
 * connector process (test/support/raw-connectors/raw.mjs) that breaks it,
 * or an SDK connector that sends bad documents.
 */
import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConnectorFailed, ProtocolViolation, runCapturePreview, runMaterializePreview } from "../../src/harness/index.js";
import { createLogger } from "../../src/log.js";

const quiet = createLogger({ level: "error" });
const SCHEMA = { type: "object", properties: { id: { type: "integer" }, n: { type: "integer" } }, required: ["id"] };

function catalog(kind: "capture" | "materialize", scenario: string, opts: { protobuf?: boolean; delta?: boolean } = {}): { path: string; fixture: string } {
  const dir = mkdtempSync(join(tmpdir(), "harness-violation-"));
  const path = join(dir, "flow.json");
  const endpoint = {
    local: {
      command: ["node", "<repo>/test/support/raw-connectors/raw.mjs"],
      env: { RAW_SCENARIO: scenario, RAW_PROTOCOL: kind },
      protobuf: opts.protobuf === true,
    },
  };
  const doc: Record<string, unknown> = { collections: { "acmeCo/things": { schema: SCHEMA, key: ["/id"] } } };
  if (kind === "capture") {
    doc.captures = { "acmeCo/raw": { endpoint, bindings: [{ resource: { stream: "x" }, target: "acmeCo/things" }] } };
  } else {
    const bindings: unknown[] = [{ resource: { table: "a" }, source: "acmeCo/things" }];
    if (opts.delta) bindings.push({ resource: { table: "b", delta: true }, source: "acmeCo/things" });
    doc.materializations = { "acmeCo/raw": { endpoint, bindings } };
  }
  writeFileSync(path, JSON.stringify(doc));
  const fixture = join(dir, "fixture.jsonl");
  writeFileSync(fixture, '["acmeCo/things", {"id": 1, "n": 1}]\n["acmeCo/things", {"id": 2, "n": 2}]\n{"commit": true}\n');
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

const capture = (scenario: string, opts?: { protobuf?: boolean }) =>
  violation(runCapturePreview({ catalog: catalog("capture", scenario, opts).path, sessions: [1], timeoutMs: 20_000, log: quiet }));

const materialize = (scenario: string, opts?: { delta?: boolean }) => {
  const c = catalog("materialize", scenario, opts);
  return violation(runMaterializePreview({ catalog: c.path, fixture: c.fixture, timeoutMs: 20_000, log: quiet }));
};

describe("protocol checks: capture", () => {
  it("a Spec response without a protocol number", async () => {
    const v = await capture("spec-no-protocol");
    expect(v.rule).toBe("spec-protocol-missing");
    expect(v.message).toMatch(/capture\.Response\.Spec.*no protocol number.*3032023/);
  });

  it("a Spec response with another protocol number", async () => {
    const v = await capture("spec-bad-protocol", { protobuf: true });
    expect(v.rule).toBe("spec-protocol-version");
    expect(v.message).toMatch(/unexpected protocol version 1234/);
  });

  it("two responses to a unary request", async () => {
    const v = await capture("unary-two");
    expect(v.rule).toBe("unary-exactly-one-response");
    expect(v.message).toMatch(/capture\.Request\.Spec must be answered by exactly one response, got 2/);
  });

  it("a first response to Open that is not Opened", async () => {
    const v = await capture("opened-not-first");
    expect(v.rule).toBe("opened-first");
    expect(v.offending).toBe("capture.Response.Checkpoint");
  });

  it("a Checkpoint without state", async () => {
    const v = await capture("checkpoint-no-state");
    expect(v.rule).toBe("checkpoint-without-state");
    expect(v.offending).toBe("capture.Response.Checkpoint");
  });

  it("a Captured document for an unknown binding", async () => {
    const v = await capture("captured-unknown-binding");
    expect(v.rule).toBe("captured-unknown-binding");
    expect(v.message).toMatch(/binding 7 does not exist \(the capture has 1 bindings\)/);
  });

  it("a response that cannot be decoded", async () => {
    const v = await capture("garbage");
    expect(v.rule).toBe("undecodable-message");
    expect(v.message).toMatch(/cannot decode a response \(json\)/);
  });

  it("a connector that fails mid-session is reported with its last error log line", async () => {
    const err = await runCapturePreview({ catalog: catalog("capture", "exit-mid-session").path, sessions: [1], log: quiet }).catch((e) => e);
    expect(err).toBeInstanceOf(ConnectorFailed);
    expect(err.message).toMatch(/exited with code 3: lost the source connection/);
  });

  it("a connector killed by a signal mid-message is reported as killed, naming the signal", async () => {
    const err = await runCapturePreview({ catalog: catalog("capture", "killed-mid-message").path, sessions: [1], log: quiet }).catch((e) => e);
    expect(err).toBeInstanceOf(ConnectorFailed);
    expect(err.signal).toBe("SIGKILL");
    expect(err.message).toMatch(/was killed by signal SIGKILL in the middle of writing a response/);
  });

  it("a connector that exits 0 in the middle of a message breaks the framing", async () => {
    const v = await capture("exit-0-mid-message");
    expect(v.rule).toBe("truncated-message");
  });

  it("a Captured document that is not JSON", async () => {
    const v = await capture("captured-not-json", { protobuf: true });
    expect(v.rule).toBe("captured-doc-not-json");
    expect(v.offending).toBe("capture.Response.Captured");
  });
});

describe("protocol checks: materialize", () => {
  it("a Spec response with another protocol number", async () => {
    const v = await materialize("mat-spec-bad-protocol");
    expect(v.rule).toBe("spec-protocol-version");
    expect(v.offending).toBe("materialize.Response.Spec");
  });

  it("a Loaded key that was not requested", async () => {
    const v = await materialize("loaded-not-requested");
    expect(v.rule).toBe("loaded-key-not-requested");
    expect(v.message).toMatch(/materialize\.Response\.Loaded: binding 0: key \[999\] was not requested/);
  });

  it("a key loaded twice", async () => {
    const v = await materialize("loaded-twice");
    expect(v.rule).toBe("loaded-key-twice");
    expect(v.message).toMatch(/key \[1\] was loaded twice/);
  });

  it("a Loaded for a delta-updates binding, which never gets Loads", async () => {
    const v = await materialize("loaded-delta-binding", { delta: true });
    expect(v.rule).toBe("loaded-binding-without-loads");
  });

  it("a Loaded for a binding that does not exist", async () => {
    const v = await materialize("loaded-unknown-binding");
    expect(v.rule).toBe("loaded-unknown-binding");
  });

  it("a Loaded before Acknowledged", async () => {
    const v = await materialize("loaded-before-ack");
    expect(v.rule).toBe("loaded-before-acknowledged");
    expect(v.message).toMatch(/expected Acknowledged/);
  });

  it("a Flushed before the runtime sent Flush", async () => {
    const v = await materialize("flushed-before-flush");
    expect(v.rule).toBe("flushed-before-flush");
  });

  it("a StartedCommit before Flushed (wrong order)", async () => {
    const v = await materialize("started-commit-before-flushed");
    expect(v.rule).toBe("response-order");
    expect(v.message).toMatch(/materialize\.Response\.StartedCommit: expected Loaded or Flushed after Flush, got StartedCommit/);
  });
});
