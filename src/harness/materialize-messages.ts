/**
 * Materialize requests and document touches made once per document on the
 * runtime's hot path: plain message objects (what create() returns, without
 * its cost), tombstone detection, and document UUIDs.
 */
import type { Request } from "../gen/materialize/materialize_pb.js";
import { uuidV1 } from "./uuid.js";

export const EMPTY = new Uint8Array(0);

export function utf8(text: string): Uint8Array {
  return Buffer.from(text, "utf8");
}

export function loadRequest(binding: number, keyJson: Uint8Array, keyPacked: Uint8Array): Request {
  return {
    $typeName: "materialize.Request",
    internal: EMPTY,
    load: { $typeName: "materialize.Request.Load", binding, keyJson, keyPacked },
  } as Request;
}

export function storeRequest(
  binding: number,
  keyJson: Uint8Array,
  keyPacked: Uint8Array,
  valuesJson: Uint8Array,
  valuesPacked: Uint8Array,
  docJson: Uint8Array,
  exists: boolean,
  del: boolean,
): Request {
  return {
    $typeName: "materialize.Request",
    internal: EMPTY,
    store: { $typeName: "materialize.Request.Store", binding, keyJson, keyPacked, valuesJson, valuesPacked, docJson, exists, delete: del },
  } as Request;
}

export function isTombstone(doc: unknown): boolean {
  const meta = (doc as { _meta?: { op?: unknown } } | null)?._meta;
  return !!meta && typeof meta === "object" && meta.op === "d";
}

/**
 * Gives a document a deterministic `_meta/uuid` when it has none, as every
 * Flow document has one: its time is the input's base time plus the line's
 * byte offset in 100 ns ticks, the same on every re-read. Documents are
 * parsed afresh on each read, so they are changed in place.
 */
export function withUuid(doc: unknown, baseMs: number, offset: number): unknown {
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return doc;
  const d = doc as Record<string, unknown>;
  const meta = d._meta;
  if (meta !== null && typeof meta === "object" && !Array.isArray(meta)) {
    if (typeof (meta as { uuid?: unknown }).uuid !== "string") (meta as Record<string, unknown>).uuid = uuidV1(baseMs, offset);
  } else {
    d._meta = { uuid: uuidV1(baseMs, offset) };
  }
  return doc;
}
