/**
 * Turns the bindings of protocol specs into the typed shapes connectors see,
 * validating every resource config against the connector's schema.
 */
import { create } from "@bufbuild/protobuf";
import { RangeSpecSchema, type CaptureSpec, type MaterializationSpec, type RangeSpec } from "../gen/flow/flow_pb.js";
import { ConnectorError } from "./errors.js";
import { jsonText, parseConfig, parseJson } from "./config.js";
import type { CaptureBinding, JsonSchema, MaterializeBinding } from "./types.js";

/** Reads the value at an RFC 6901 JSON pointer, or undefined. */
export function valueAtPointer(doc: unknown, pointer: string): unknown {
  if (pointer === "") return doc;
  let cur: unknown = doc;
  for (const raw of pointer.split("/").slice(1)) {
    const token = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[token];
  }
  return cur;
}

/** A binding's resource path: the values at the connector's resource path pointers. */
export function resourcePathOf(resource: unknown, pointers: string[]): string[] {
  return pointers.map((p) => {
    const v = valueAtPointer(resource, p);
    if (v === undefined || v === null) return "";
    return typeof v === "string" ? v : JSON.stringify(v);
  });
}

export function parseResource<R>(schema: JsonSchema, text: string | Uint8Array, index: number): R {
  return parseConfig<R>(schema, text, `resource config of binding ${index}`);
}

export function captureBindings<R>(spec: CaptureSpec, schema: JsonSchema, pointers: string[]): CaptureBinding<R>[] {
  return spec.bindings.map((b, i) => {
    if (!b.collection) throw new ConnectorError(`binding ${i} of capture ${spec.name} has no collection`);
    const resourceConfig = parseResource<R>(schema, b.resourceConfigJson, i);
    return {
      resourceConfig,
      resourcePath: b.resourcePath.length ? b.resourcePath : resourcePathOf(resourceConfig, pointers),
      collection: b.collection,
      backfill: b.backfill,
      stateKey: b.stateKey,
    };
  });
}

export function fieldConfigOf(map: Record<string, Uint8Array>, index: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, bytes] of Object.entries(map)) {
    out[field] = parseJson(jsonText(bytes), `field config of ${JSON.stringify(field)} in binding ${index}`);
  }
  return out;
}

export function materializeBindings<R>(spec: MaterializationSpec, schema: JsonSchema): MaterializeBinding<R>[] {
  return spec.bindings.map((b, i) => {
    if (!b.collection) throw new ConnectorError(`binding ${i} of materialization ${spec.name} has no collection`);
    const fs = b.fieldSelection;
    return {
      resourceConfig: parseResource<R>(schema, b.resourceConfigJson, i),
      resourcePath: b.resourcePath,
      collection: b.collection,
      deltaUpdates: b.deltaUpdates,
      keys: fs?.keys ?? [],
      values: fs?.values ?? [],
      document: fs?.document ?? "",
      fieldConfig: fieldConfigOf(fs?.fieldConfigJsonMap ?? {}, i),
      backfill: b.backfill,
      stateKey: b.stateKey,
      spec: b,
    };
  });
}

/** The range of a session that covers every key and r-clock. */
export function fullRange(): RangeSpec {
  return create(RangeSpecSchema, { keyBegin: 0, keyEnd: 0xffffffff, rClockBegin: 0, rClockEnd: 0xffffffff });
}
