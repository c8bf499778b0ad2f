/**
 * Validate: constraints per format and mode, configuration errors naming the
 * binding, an unreachable server, and the duplicate-window warnings that
 * state the limit of exactly-once delivery.
 */
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CollectionSpecSchema } from "../../src/gen/flow/flow_pb.js";
import { createLogger } from "../../src/log.js";
import { ConstraintType, type MaterializeValidate } from "../../src/sdk/types.js";
import connector from "./connector.js";
import type { ResourceConfig } from "./config.js";
import { admin, dropNamespace, namespace, NATS_URL, type Admin } from "./test-support.js";

const collection = create(CollectionSpecSchema, {
  name: "acme/things",
  key: ["/id"],
  projections: [
    { field: "id", ptr: "/id", isPrimaryKey: true, inference: { types: ["integer"] } },
    { field: "name", ptr: "/name", inference: { types: ["string"] } },
    { field: "nested/a", ptr: "/nested/a", inference: { types: ["string"] } },
    { field: "flow_document", ptr: "", inference: { types: ["object"] } },
  ],
});

let a: Admin;
const ns = namespace();
beforeAll(async () => {
  a = await admin();
  await a.jsm.streams.add({ name: `${ns}_own`, subjects: [`${ns}.own`], duplicate_window: 5e9 });
});
afterAll(async () => {
  await dropNamespace(a.jsm, ns);
  await a?.nc.close();
});

function request(resources: ResourceConfig[], servers = NATS_URL): MaterializeValidate<any, ResourceConfig> {
  return {
    name: "acme/mat",
    config: { servers, advanced: { internal_prefix: ns, duplicate_window_seconds: 300 } },
    bindings: resources.map((r) => ({ resourceConfig: r, collection, fieldConfig: {}, backfill: 0, groupBy: [] })),
    request: {} as never,
  };
}

function capture() {
  const lines: Array<{ level: string; msg: string }> = [];
  const log = createLogger({ level: "warn", write: (l) => void lines.push(JSON.parse(l)) });
  return { lines, ctx: { log, signal: new AbortController().signal } };
}

describe("validate", { timeout: 60_000 }, () => {
  it("gives constraints per format and mode, and warns of each target's duplicate window", async () => {
    const { lines, ctx } = capture();
    const out = await connector.validate(
      request([
        { bucket: `${ns}_a` },
        { bucket: `${ns}_b`, format: "fields" },
        { subject: `${ns}.events`, delta_updates: true },
        { subject: `${ns}.own`, delta_updates: true, format: "fields" },
      ]),
      ctx,
    );
    expect(out.map((b) => [b.resourcePath, b.deltaUpdates])).toEqual([
      [[`${ns}_a`], false],
      [[`${ns}_b`], false],
      [[`${ns}.events`], true],
      [[`${ns}.own`], true],
    ]);
    expect(out[0]!.constraints.id!.type).toBe(ConstraintType.LOCATION_REQUIRED);
    expect(out[0]!.constraints.flow_document!.type).toBe(ConstraintType.FIELD_REQUIRED);
    expect(out[0]!.constraints.name!.type).toBe(ConstraintType.FIELD_FORBIDDEN);
    expect(out[1]!.constraints.name!.type).toBe(ConstraintType.LOCATION_RECOMMENDED);
    expect(out[1]!.constraints["nested/a"]!.type).toBe(ConstraintType.FIELD_OPTIONAL);
    expect(out[1]!.constraints.flow_document!.type).toBe(ConstraintType.FIELD_REQUIRED);
    expect(out[3]!.constraints.flow_document!.type).toBe(ConstraintType.FIELD_OPTIONAL);

    const warnings = lines.filter((l) => l.level === "warn").map((l) => l.msg);
    expect(warnings).toHaveLength(4);
    expect(warnings[0]).toMatch(new RegExp(`KV bucket ${ns}_a: exactly-once relies on stream KV_${ns}_a's duplicate window of 120s`));
    expect(warnings[2]).toMatch(/subject .*events: .*duplicate window of 300s/);
    // An existing stream's own window counts, not the one Apply would give.
    expect(warnings[3]).toMatch(new RegExp(`subject ${ns}.own: exactly-once relies on stream ${ns}_own's duplicate window of 5s`));
  });

  it("names the binding whose resource config is wrong", async () => {
    const { ctx } = capture();
    await expect(connector.validate(request([{ bucket: `${ns}_a` }, { delta_updates: true }]), ctx)).rejects.toThrow(/binding 1: delta updates publish to a subject/);
    await expect(connector.validate(request([{ subject: "x" }]), ctx)).rejects.toThrow(/binding 0: standard updates keep documents in a KV bucket/);
    await expect(connector.validate(request([{ subject: "a.*", delta_updates: true }]), ctx)).rejects.toThrow(/binding 0: subject must be .* without spaces or wildcards/);
    await expect(connector.validate(request([{ bucket: "b" }, { bucket: "b" }]), ctx)).rejects.toThrow(/bindings 0 and 1 both write to bucket b/);
    await expect(connector.validate(request([{ subject: "s", delta_updates: true, soft_delete: true }]), ctx)).rejects.toThrow(/soft_delete applies to standard updates only/);
  });

  it("says which server it cannot reach", async () => {
    const { ctx } = capture();
    await expect(connector.validate(request([{ bucket: "b" }], "nats://127.0.0.1:1"), ctx)).rejects.toThrow(/cannot connect to NATS server nats:\/\/127.0.0.1:1/);
  });
});
