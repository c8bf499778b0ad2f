import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { buildCollection } from "../../src/harness/collection-spec.js";
import { selectFields } from "../../src/harness/field-selection.js";
import { encodeStateKey } from "../../src/harness/state-key.js";
import { HarnessError } from "../../src/harness/errors.js";
import { catalogFromObject, runCapturePreview } from "../../src/harness/index.js";
import { createLogger } from "../../src/log.js";
import { Inference_Exists, Inference_Reduce, type CollectionSpec } from "../../src/gen/flow/flow_pb.js";
import {
  Response_Validated_ConstraintSchema,
  Response_Validated_Constraint_Type as CT,
  type Response_Validated_Constraint,
} from "../../src/gen/materialize/materialize_pb.js";

const dec = new TextDecoder();

const ordersSchema = {
  type: "object",
  $defs: {
    money: { type: "object", properties: { amount: { type: "number", minimum: 0 }, currency: { type: "string", maxLength: 3 } }, required: ["amount"] },
  },
  properties: {
    region: { type: "string", title: "Region", description: "Sales region" },
    id: { type: "integer" },
    createdAt: { type: "string", format: "date-time" },
    blob: { type: "string", contentEncoding: "base64" },
    total: { $ref: "#/$defs/money" },
    customer: {
      type: ["object", "null"],
      properties: { name: { type: "string" }, address: { type: "object", properties: { city: { type: "string", default: "Paris" } }, required: ["city"] } },
      required: ["name"],
    },
    tags: { type: "array", items: { type: "string" }, minItems: 1, reduce: { strategy: "append" } },
    score: { type: ["integer", "string"] },
    count: { type: "integer", reduce: { strategy: "sum" } },
    "a/b": { type: "boolean" },
    gone: false,
    status: { enum: ["new", "paid"] },
  },
  required: ["region", "id", "total", "createdAt"],
  reduce: { strategy: "merge" },
};

function projection(spec: CollectionSpec, field: string) {
  const p = spec.projections.find((x) => x.field === field);
  if (!p) throw new Error(`no projection ${field}; have ${spec.projections.map((x) => x.field).join(", ")}`);
  return p;
}

describe("collection spec", () => {
  const { spec } = buildCollection("acmeCo/orders", { schema: ordersSchema, key: ["/region", "/id"] });

  it("projects every property path, nested objects flattened with / and sorted by field", () => {
    const fields = spec.projections.map((p) => p.field);
    expect(fields).toEqual([...fields].sort());
    for (const f of ["region", "id", "createdAt", "blob", "total", "total/amount", "total/currency", "customer", "customer/name", "customer/address", "customer/address/city", "tags", "score", "count", "a~1b", "status", "flow_document", "flow_published_at", "_meta/flow_truncated"]) {
      expect(fields, f).toContain(f);
    }
    // Array items and forbidden properties are not projected.
    expect(fields.some((f) => f.startsWith("tags/"))).toBe(false);
    expect(fields).not.toContain("gone");
    expect(projection(spec, "a~1b").ptr).toBe("/a~1b");
    expect(projection(spec, "customer/address/city").ptr).toBe("/customer/address/city");
  });

  it("marks the composite key, in key order, and keeps the spec's key and uuid pointer", () => {
    expect(spec.key).toEqual(["/region", "/id"]);
    expect(spec.uuidPtr).toBe("/_meta/uuid");
    expect(spec.projections.filter((p) => p.isPrimaryKey).map((p) => p.field).sort()).toEqual(["id", "region"]);
    expect(JSON.parse(dec.decode(spec.writeSchemaJson))).toEqual(ordersSchema);
    expect(spec.readSchemaJson.length).toBe(0);
    expect(spec.partitionTemplate?.name).toMatch(/^acmeCo\/orders\//);
  });

  it("infers types, string details, exists, defaults, titles and reduce annotations", () => {
    const createdAt = projection(spec, "createdAt").inference!;
    expect(createdAt.types).toEqual(["string"]);
    expect(createdAt.string?.format).toBe("date-time");
    expect(createdAt.exists).toBe(Inference_Exists.MUST);

    const blob = projection(spec, "blob").inference!;
    expect(blob.string?.contentEncoding).toBe("base64");
    expect(blob.exists).toBe(Inference_Exists.MAY);

    const region = projection(spec, "region").inference!;
    expect(region.title).toBe("Region");
    expect(region.description).toBe("Sales region");

    // Multiple types, in Flow's order; "number" subsumes "integer".
    expect(projection(spec, "score").inference!.types).toEqual(["integer", "string"]);
    const amount = projection(spec, "total/amount").inference!;
    expect(amount.types).toEqual(["number"]);
    expect(amount.numeric?.hasMinimum).toBe(true);
    expect(amount.exists).toBe(Inference_Exists.MUST); // required through a $ref
    expect(projection(spec, "total/currency").inference!.string?.maxLength).toBe(3);

    // A nullable parent makes its required children only MAY exist.
    expect(projection(spec, "customer").inference!.types).toEqual(["null", "object"]);
    expect(projection(spec, "customer/name").inference!.exists).toBe(Inference_Exists.MAY);
    const city = projection(spec, "customer/address/city").inference!;
    expect(city.exists).toBe(Inference_Exists.MAY);
    expect(JSON.parse(dec.decode(city.defaultJson))).toBe("Paris");

    const tags = projection(spec, "tags").inference!;
    expect(tags.types).toEqual(["array"]);
    expect(tags.array?.minItems).toBe(1);
    expect(tags.array?.itemTypes).toEqual(["string"]);
    expect(tags.reduce).toBe(Inference_Reduce.APPEND);
    expect(projection(spec, "count").inference!.reduce).toBe(Inference_Reduce.SUM);

    const status = projection(spec, "status").inference!;
    expect(status.types).toEqual(["string"]);
    expect(status.enumJsonVec.map((b) => JSON.parse(dec.decode(b)))).toEqual(["new", "paid"]);

    const root = projection(spec, "flow_document");
    expect(root.ptr).toBe("");
    expect(root.inference!.types).toEqual(["object"]);
    expect(root.inference!.reduce).toBe(Inference_Reduce.MERGE);
    const published = projection(spec, "flow_published_at");
    expect(published.ptr).toBe("/_meta/uuid");
    expect(published.inference!.string?.format).toBe("date-time");
  });

  it("honours user projections, including a renamed root and a partition field", () => {
    const { spec: s } = buildCollection("acmeCo/orders", {
      schema: ordersSchema,
      key: ["/region", "/id"],
      projections: { doc: "", theRegion: { location: "/region", partition: true }, city: "/customer/address/city" },
    });
    expect(s.projections.some((p) => p.field === "flow_document")).toBe(false);
    expect(projection(s, "doc").ptr).toBe("");
    expect(projection(s, "doc").explicit).toBe(true);
    const r = projection(s, "theRegion");
    expect(r.isPartitionKey).toBe(true);
    expect(r.isPrimaryKey).toBe(true);
    expect(s.partitionFields).toEqual(["theRegion"]);
    expect(projection(s, "city").ptr).toBe("/customer/address/city");
    // The canonical projection stays as well.
    expect(projection(s, "region").explicit).toBe(false);
  });

  it("rejects bad keys and schemas with errors naming the collection and field", () => {
    expect(() => buildCollection("acmeCo/x", { schema: ordersSchema, key: [] })).toThrow(/acmeCo\/x.*"key"/);
    expect(() => buildCollection("acmeCo/x", { schema: ordersSchema, key: ["/blob"] })).toThrow(/key\[0\] \/blob is not required/);
    expect(() => buildCollection("acmeCo/x", { schema: ordersSchema, key: ["/total"] })).toThrow(/key\[0\] \/total must have a single scalar type/);
    expect(() => buildCollection("acmeCo/x", { schema: { type: "array" }, key: ["/a"] })).toThrow(/objects only/);
    expect(() => buildCollection("acmeCo/x", { schema: ordersSchema, key: ["region"] })).toThrow(/key\[0\].*JSON pointer/);
    expect(() => buildCollection("acmeCo/x", { schema: ordersSchema, key: ["/id"], projections: { bad: "/gone" } })).toThrow(/projection "bad".*cannot exist/);
    expect(() => buildCollection("acmeCo/x", { schema: ordersSchema, key: ["/id"], projections: { region: "/blob" } })).toThrow(HarnessError);
    expect(() => buildCollection("acmeCo/x", { schema: { type: "object", properties: { a: { $ref: "other.json" } } }, key: ["/a"] })).toThrow(/not local/);
  });

  it("uses separate read and write schemas when both are given", () => {
    const write = { type: "object", properties: { id: { type: "integer" } }, required: ["id"] };
    const read = { type: "object", properties: { id: { type: "integer" }, extra: { type: "string" } }, required: ["id"] };
    const { spec: s } = buildCollection("acmeCo/rw", { writeSchema: write, readSchema: read, key: ["/id"] });
    expect(JSON.parse(dec.decode(s.readSchemaJson))).toEqual(read);
    expect(s.projections.map((p) => p.field)).toContain("extra");
    expect(() => buildCollection("acmeCo/rw", { schema: write, writeSchema: write, key: ["/id"] })).toThrow(/either "schema", or both/);

    // Flow's read schemas refer to the write schema and the inferred schema by URL.
    const flowRead = { allOf: [{ $ref: "flow://write-schema" }, { $ref: "flow://inferred-schema" }], properties: { more: { type: "boolean" } } };
    const { spec: f } = buildCollection("acmeCo/rw", { writeSchema: write, readSchema: flowRead, key: ["/id"] });
    expect(f.projections.find((p) => p.field === "id")!.inference!.types).toEqual(["integer"]);
    expect(f.projections.map((p) => p.field)).toContain("more");
  });
});

describe("state keys (Flow's encoding)", () => {
  it("joins resource path parts with an escaped / and adds .v<backfill>", () => {
    expect(encodeStateKey(["table"], 0)).toBe("table");
    expect(encodeStateKey(["public", "table"], 0)).toBe("public%2Ftable");
    expect(encodeStateKey(["public", "table"], 1)).toBe("public%2Ftable.v1");
    expect(encodeStateKey(["he!lo৬", "a/part%", "_¾the-=res+."], 3)).toBe("he%21lo৬%2Fa%2Fpart%25%2F_¾the-=res+..v3");
    expect(encodeStateKey(["prefix", "http://user:password@foo.bar.example.com:9000/hooks///baz?type=critical&test=true"], 42)).toBe(
      "prefix%2Fhttp%3A%2F%2Fuser%3Apassword%40foo.bar.example.com%3A9000%2Fhooks%2F%2F%2Fbaz%3Ftype=critical%26test=true.v42",
    );
  });
});

describe("field selection", () => {
  const { spec } = buildCollection("acmeCo/orders", { schema: ordersSchema, key: ["/region", "/id"] });
  const c = (type: CT, reason = "r"): Response_Validated_Constraint => create(Response_Validated_ConstraintSchema, { type, reason });
  /** Constraints in the style of a SQL materialization. */
  function sqlLike(over: Record<string, Response_Validated_Constraint> = {}) {
    const out: Record<string, Response_Validated_Constraint> = {};
    for (const p of spec.projections) {
      if (p.isPrimaryKey) out[p.field] = c(CT.LOCATION_REQUIRED);
      else if (p.ptr === "") out[p.field] = c(CT.LOCATION_REQUIRED);
      else if (p.field.includes("/")) out[p.field] = c(CT.FIELD_OPTIONAL);
      else out[p.field] = c(CT.LOCATION_RECOMMENDED);
    }
    return { ...out, ...over };
  }

  it("selects keys, the document, and recommended fields; leaves optional ones out", () => {
    const fs = selectFields("b", spec, sqlLike());
    expect(fs.keys).toEqual(["region", "id"]);
    expect(fs.document).toBe("flow_document");
    expect(fs.values).toEqual(["a~1b", "blob", "count", "createdAt", "customer", "flow_published_at", "score", "status", "tags", "total"]);
    expect(fs.values).not.toContain("total/amount");
  });

  it("recommended: false keeps only required fields; include adds optional ones with their config", () => {
    const fs = selectFields("b", spec, sqlLike({ count: c(CT.FIELD_REQUIRED) }), { recommended: false, include: { "total/amount": { castToString: true } } });
    expect(fs.values).toEqual(["count", "total/amount"]);
    expect(JSON.parse(dec.decode(fs.fieldConfigJsonMap["total/amount"]!))).toEqual({ castToString: true });
  });

  it("exclude removes recommended fields, but not required ones", () => {
    expect(selectFields("b", spec, sqlLike(), { exclude: ["blob", "tags"] }).values).not.toContain("blob");
    expect(() => selectFields("b", spec, sqlLike({ blob: c(CT.FIELD_REQUIRED, "needs blob") }), { exclude: ["blob"] })).toThrow(/"blob" is excluded but the connector says FIELD_REQUIRED \(needs blob\)/);
  });

  it("a required location is satisfied once, by any field at that location", () => {
    const { spec: s } = buildCollection("acmeCo/orders", { schema: ordersSchema, key: ["/region", "/id"], projections: { when: "/createdAt" } });
    const cons: Record<string, Response_Validated_Constraint> = {};
    for (const p of s.projections) cons[p.field] = p.isPrimaryKey || p.ptr === "" ? c(CT.LOCATION_REQUIRED) : c(CT.FIELD_OPTIONAL);
    cons.createdAt = c(CT.LOCATION_REQUIRED);
    cons.when = c(CT.LOCATION_REQUIRED);
    expect(selectFields("b", s, cons).values).toEqual(["createdAt"]);
    expect(selectFields("b", s, cons, { exclude: ["createdAt"] }).values).toEqual(["when"]);
  });

  it("forbidden, incompatible and unconstrained fields cannot be included, and keys must be allowed", () => {
    expect(() => selectFields("b", spec, sqlLike({ blob: c(CT.FIELD_FORBIDDEN, "too big") }), { include: ["blob"] })).toThrow(/"blob" is included but the connector says FIELD_FORBIDDEN \(too big\)/);
    expect(() => selectFields("b", spec, sqlLike({ blob: c(CT.INCOMPATIBLE, "type changed") }), { include: ["blob"] })).toThrow(/INCOMPATIBLE/);
    const noBlob = sqlLike();
    delete noBlob.blob;
    expect(() => selectFields("b", spec, noBlob, { include: ["blob"] })).toThrow(/implicitly forbidden/);
    expect(selectFields("b", spec, sqlLike({ blob: c(CT.FIELD_FORBIDDEN) })).values).not.toContain("blob");
    expect(() => selectFields("b", spec, sqlLike({ id: c(CT.FIELD_FORBIDDEN, "no ints") }))).toThrow(/key field "id" cannot be materialized/);
    expect(() => selectFields("b", spec, sqlLike(), { include: ["nope"] })).toThrow(/"nope" is not a projection/);
  });

  it("groupBy replaces the collection key", () => {
    const fs = selectFields("b", spec, sqlLike({ status: c(CT.LOCATION_REQUIRED) }), { groupBy: ["status"] });
    expect(fs.keys).toEqual(["status"]);
    expect(fs.values).toContain("region");
    expect(fs.values).not.toContain("status");
  });

  it("keeps the fields materialized today; a field turned incompatible needs a backfill", () => {
    const live = selectFields("b", spec, sqlLike(), { include: ["total/amount"] });
    // The user no longer includes total/amount, but it stays while the binding isn't backfilled.
    const next = selectFields("b", spec, sqlLike(), {}, live);
    expect(next.values).toContain("total/amount");
    expect(next.document).toBe("flow_document");
    expect(() => selectFields("b", spec, sqlLike({ blob: c(CT.INCOMPATIBLE, "was bytea") }), {}, live)).toThrow(
      /"blob" is materialized today but the connector now says INCOMPATIBLE \(was bytea\); increment the binding's backfill counter/,
    );
    // Explicit exclusion still wins.
    expect(selectFields("b", spec, sqlLike(), { exclude: ["total/amount"] }, live).values).not.toContain("total/amount");
  });

  it("selects no document when the connector only allows it (delta updates style)", () => {
    const fs = selectFields("b", spec, sqlLike({ flow_document: c(CT.FIELD_OPTIONAL) }));
    expect(fs.document).toBe("");
    expect(selectFields("b", spec, sqlLike({ flow_document: c(CT.FIELD_OPTIONAL) }), { include: ["flow_document"] }).document).toBe("flow_document");
  });
});

describe("shard settings", () => {
  const reportLevel = [
    "node",
    "-e",
    `console.error(JSON.stringify({ level: "error", msg: "LOG_LEVEL=" + process.env.LOG_LEVEL })); process.exit(1)`,
  ];
  const catalogWith = (shards: unknown) =>
    catalogFromObject({
      collections: { "acme/c": { schema: { type: "object", properties: { id: { type: "integer" } }, required: ["id"] }, key: ["/id"] } },
      captures: { "acme/cap": { endpoint: { local: { command: reportLevel, config: {} } }, bindings: [], shards } },
    });

  it("passes shards.logLevel to the connector as LOG_LEVEL, unless --log-level overrides it", async () => {
    const quiet = createLogger({ level: "error", write: () => {} });
    await expect(runCapturePreview({ catalog: catalogWith({ logLevel: "debug" }), log: quiet })).rejects.toThrow(/LOG_LEVEL=debug/);
    await expect(runCapturePreview({ catalog: catalogWith({ logLevel: "debug" }), log: quiet, logLevel: "warn" })).rejects.toThrow(/LOG_LEVEL=warn/);
  });

  it("refuses a disabled task and names unknown or malformed settings", async () => {
    await expect(runCapturePreview({ catalog: catalogWith({ disable: true }) })).rejects.toThrow(
      /capture "acme\/cap" is disabled \(shards.disable: true\)/,
    );
    expect(() => catalogWith({ maxTxnDuration: "1s", hotStandbys: 1 })).not.toThrow();
    expect(() => catalogWith({ replicas: 2 })).toThrow(/shards\.replicas is not a shard setting/);
    expect(() => catalogWith({ logLevel: "loud" })).toThrow(/shards\.logLevel must be one of/);
  });
});
