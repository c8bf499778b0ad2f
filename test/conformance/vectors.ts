/**
 * Finds Flow's interop vectors (NAME.bin / NAME.json pairs) and works out
 * each one's message type, so new vectors are picked up with no code change.
 */
import { fromBinary, type DescMessage } from "@bufbuild/protobuf";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { toFlowJson } from "../../src/codec/flow-json.js";
import { findMessageType, messageTypeNames } from "../../src/codec/registry.js";

/** The repository root (this file is test/conformance/vectors.ts, also under dist/). */
export const repoRoot = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return dir;
})();

/** The vectors the repository carries (`test/conformance/vectors/`, see its README). */
export const bundledVectorsDir = join(repoRoot, "test", "conformance", "vectors");


export interface Vector {
  name: string;
  bin: Buffer;
  json: string;
  schema: DescMessage;
}

/** Names whose type the naming convention cannot derive. */
const KNOWN: Record<string, string> = {
  capture_request: "capture.Request",
  capture_response: "capture.Response",
  materialize_request: "materialize.Request",
  materialize_response: "materialize.Response",
  capture_spec: "flow.CaptureSpec",
  materialization_spec: "flow.MaterializationSpec",
  collection_spec: "flow.CollectionSpec",
};

const pascal = (s: string) => s.split("_").map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join("");

/** Type names the convention suggests for a vector name, best first. */
export function candidateTypes(name: string): string[] {
  const out: string[] = [];
  if (KNOWN[name]) out.push(KNOWN[name]);
  // `<prefix>_<known>_<variant>`, e.g. newest_capture_request_validate.
  for (const [k, t] of Object.entries(KNOWN)) if (!out.includes(t) && `_${name}_`.includes(`_${k}_`)) out.push(t);
  const cut = name.indexOf("_");
  if (cut > 0) out.push(`${name.slice(0, cut)}.${pascal(name.slice(cut + 1))}`);
  out.push(`flow.${pascal(name)}`);
  return out;
}

/** True if the message or any nested message kept unknown fields. */
export function hasUnknownFields(value: unknown): boolean {
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return false;
  const u = (value as { $unknown?: unknown[] }).$unknown;
  if (u !== undefined && u.length > 0) return true;
  return Object.values(value).some(hasUnknownFields);
}

function jsonMatches(schema: DescMessage, bin: Buffer, json: string): boolean {
  try {
    const msg = fromBinary(schema, bin);
    if (hasUnknownFields(msg)) return false;
    return JSON.stringify(sortKeys(JSON.parse(toFlowJson(schema, msg)))) === JSON.stringify(sortKeys(JSON.parse(json)));
  } catch {
    return false;
  }
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/** The message type of a vector: by name, else the one registered type that fits. */
export function vectorType(name: string, bin: Buffer, json: string): DescMessage {
  for (const t of candidateTypes(name)) {
    const schema = findMessageType(t);
    if (schema) return schema;
  }
  for (const t of messageTypeNames()) {
    const schema = findMessageType(t)!;
    if (jsonMatches(schema, bin, json)) return schema;
  }
  throw new Error(`vector ${name}: no registered message type decodes it to its JSON`);
}

/** Every NAME.bin with a NAME.json next to it in `dir`, sorted by name. */
export function loadVectors(dir = bundledVectorsDir): Vector[] {
  if (!existsSync(dir)) throw new Error(`vectors folder ${dir} does not exist`);
  const files = new Set(readdirSync(dir));
  const out: Vector[] = [];
  for (const f of [...files].sort()) {
    if (!f.endsWith(".bin")) continue;
    const name = f.slice(0, -4);
    if (!files.has(`${name}.json`)) continue;
    const bin = readFileSync(join(dir, f));
    const json = readFileSync(join(dir, `${name}.json`), "utf8");
    out.push({ name, bin, json, schema: vectorType(name, bin, json) });
  }
  return out;
}
