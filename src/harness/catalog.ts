/**
 * Reads a Flow catalog (flow.yaml or JSON) into plain definitions: schemas
 * and configs given as relative files are loaded, `import`ed catalogs are
 * merged, and each endpoint is resolved to a command to run.
 */
import { readFileSync, existsSync } from "node:fs";
import { dirname, resolve, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { HarnessError } from "./errors.js";
import { parseDurationMs } from "../duration.js";
import { getAt } from "./json-pointer.js";
import type { CollectionDef, ProjectionDef } from "./collection-spec.js";
import type { FieldsDef } from "./field-selection.js";
import type { WireCodec } from "./wire.js";

export interface ConnectorEndpoint {
  /** argv of the connector process. */
  command: string[];
  env: Record<string, string>;
  codec: WireCodec;
  /** "image" for `connector: {image}` endpoints, "local" for `local: {command}`. */
  kind: "image" | "local";
  image?: string;
  config: unknown;
  /** When set, sessions are streams of the gRPC server at this address instead of processes. */
  grpcAddress?: string;
  /** The task's `shards.logLevel`: the connector's LOG_LEVEL unless --log-level says otherwise. */
  logLevel?: string;
}

/**
 * A task's `shards` settings, as Flow's catalog has them. `disable` and
 * `logLevel` act here; the others are about the runtime's own scheduling
 * and are accepted without effect.
 */
export interface ShardsDef {
  disable: boolean;
  logLevel?: string;
}

const SHARD_KEYS = new Set(["disable", "logLevel", "minTxnDuration", "maxTxnDuration", "hotStandbys", "ringBufferSize", "readChannelSize"]);
const LOG_LEVELS = new Set(["trace", "debug", "info", "warn", "error"]);

function readShards(at: string, raw: unknown): ShardsDef {
  if (raw === undefined) return { disable: false };
  if (!isObject(raw)) throw new HarnessError(`${at}: shards must be a mapping`);
  for (const k of Object.keys(raw)) {
    if (!SHARD_KEYS.has(k)) throw new HarnessError(`${at}: shards.${k} is not a shard setting (known: ${[...SHARD_KEYS].join(", ")})`);
  }
  if (raw.disable !== undefined && typeof raw.disable !== "boolean") throw new HarnessError(`${at}: shards.disable must be true or false`);
  const level = raw.logLevel;
  if (level !== undefined && (typeof level !== "string" || !LOG_LEVELS.has(level))) {
    throw new HarnessError(`${at}: shards.logLevel must be one of ${[...LOG_LEVELS].join(", ")}`);
  }
  return { disable: raw.disable === true, logLevel: level as string | undefined };
}

export interface CaptureBindingDef {
  resource: unknown;
  target: string;
  backfill: number;
  disable: boolean;
}

export interface CaptureDef {
  name: string;
  endpoint: ConnectorEndpoint;
  shards: ShardsDef;
  bindings: CaptureBindingDef[];
  intervalSeconds: number;
}

export interface MaterializationBindingDef {
  resource: unknown;
  source: string;
  fields: FieldsDef;
  backfill: number;
  disable: boolean;
}

export interface MaterializationDef {
  name: string;
  endpoint: ConnectorEndpoint;
  shards: ShardsDef;
  bindings: MaterializationBindingDef[];
}

export interface Catalog {
  path: string;
  collections: Map<string, CollectionDef>;
  captures: Map<string, CaptureDef>;
  materializations: Map<string, MaterializationDef>;
}

export interface LoadOptions {
  /** Codec for `connector: {image}` endpoints (Flow's default is protobuf). */
  imageCodec?: WireCodec;
  /** Drive every endpoint through the gRPC server at this address instead of spawning it. */
  grpcAddress?: string;
}

/** The repository root: where bin/tributary lives. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, "bin", "tributary")) && existsSync(join(dir, "package.json"))) return dir;
    dir = dirname(dir);
  }
  throw new Error("cannot find the repository root (bin/tributary) above " + fileURLToPath(import.meta.url));
}

function readDoc(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new HarnessError(`${what}: cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new HarnessError(`${what}: ${path} is not valid ${path.endsWith(".json") ? "JSON" : "YAML"}: ${(err as Error).message}`);
  }
}

function isObject(v: unknown): v is Record<string, any> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Seconds in a duration like "30s", "3m", "1h30m" or a number of seconds (see src/duration.ts). */
export function parseDuration(v: unknown, what: string): number {
  if (typeof v === "number") return v;
  if (typeof v !== "string") throw new HarnessError(`${what}: expected a duration like "30s" or "5m"`);
  if (v.trim() === "") throw new HarnessError(`${what}: empty duration`);
  const ms = parseDurationMs(v);
  if (ms === undefined) throw new HarnessError(`${what}: invalid duration ${JSON.stringify(v)}`);
  return ms / 1000;
}

/** A copy of `catalog` whose every endpoint is driven through the gRPC server at `address`. */
export function withGrpcAddress(catalog: Catalog, address: string | undefined): Catalog {
  if (!address) return catalog;
  const retarget = <T extends { endpoint: ConnectorEndpoint }>(m: Map<string, T>) =>
    new Map([...m].map(([k, v]) => [k, { ...v, endpoint: { ...v.endpoint, grpcAddress: address, codec: "proto" as const } }]));
  return { ...catalog, captures: retarget(catalog.captures), materializations: retarget(catalog.materializations) };
}

export function loadCatalog(path: string, opts: LoadOptions = {}): Catalog {
  const catalog: Catalog = { path: resolve(path), collections: new Map(), captures: new Map(), materializations: new Map() };
  addFile(catalog, resolve(path), opts, new Set());
  return catalog;
}

/**
 * A catalog from an object of the same shape as flow.yaml, for tests that
 * build catalogs in code. Relative paths (schemas, configs, imports) resolve
 * against `baseDir` (default: the working directory).
 */
export function catalogFromObject(doc: unknown, opts: LoadOptions & { baseDir?: string } = {}): Catalog {
  const base = resolve(opts.baseDir ?? ".");
  const catalog: Catalog = { path: "(inline catalog)", collections: new Map(), captures: new Map(), materializations: new Map() };
  addDoc(catalog, doc, base, "(inline catalog)", opts, new Set());
  return catalog;
}

function addFile(catalog: Catalog, abs: string, opts: LoadOptions, seen: Set<string>) {
  if (seen.has(abs)) return;
  seen.add(abs);
  addDoc(catalog, readDoc(abs, "catalog"), dirname(abs), abs, opts, seen);
}

function addDoc(catalog: Catalog, doc: unknown, base: string, label: string, opts: LoadOptions, seen: Set<string>) {
  if (!isObject(doc)) throw new HarnessError(`catalog ${label}: must be a mapping with collections, captures, materializations`);
  for (const imp of (doc.import as unknown[]) ?? []) {
    if (typeof imp !== "string") throw new HarnessError(`catalog ${label}: import entries must be file paths`);
    addFile(catalog, resolve(base, imp), opts, seen);
  }
  for (const [name, def] of Object.entries(doc.collections ?? {})) {
    catalog.collections.set(name, readCollection(name, def, base));
  }
  for (const [name, def] of Object.entries(doc.captures ?? {})) {
    catalog.captures.set(name, readCapture(name, def, base, opts));
  }
  for (const [name, def] of Object.entries(doc.materializations ?? {})) {
    catalog.materializations.set(name, readMaterialization(name, def, base, opts));
  }
}

function readSchema(v: unknown, base: string, what: string): Record<string, unknown> {
  if (typeof v === "string") {
    const [file, frag] = v.split("#", 2) as [string, string | undefined];
    let doc = readDoc(resolve(base, file), what);
    if (frag) {
      doc = getAt(doc, frag);
      if (doc === undefined) throw new HarnessError(`${what}: ${v}: fragment #${frag} does not resolve`);
    }
    if (!isObject(doc)) throw new HarnessError(`${what}: ${v} must hold a JSON schema object`);
    return doc;
  }
  if (!isObject(v)) throw new HarnessError(`${what}: must be a JSON schema object or a relative file path`);
  return v;
}

function readCollection(name: string, def: unknown, base: string): CollectionDef {
  const at = `collection ${JSON.stringify(name)}`;
  if (!isObject(def)) throw new HarnessError(`${at}: must be a mapping`);
  if (def.derive) throw new HarnessError(`${at}: derivations are not supported by the harness`);
  const out: CollectionDef = { key: def.key };
  if (def.schema !== undefined) out.schema = readSchema(def.schema, base, `${at}: schema`);
  if (def.writeSchema !== undefined) out.writeSchema = readSchema(def.writeSchema, base, `${at}: writeSchema`);
  if (def.readSchema !== undefined) out.readSchema = readSchema(def.readSchema, base, `${at}: readSchema`);
  if (def.projections !== undefined) {
    if (!isObject(def.projections)) throw new HarnessError(`${at}: projections must be a mapping of field to location`);
    out.projections = def.projections as Record<string, ProjectionDef>;
  }
  return out;
}

function readConfig(v: unknown, base: string, what: string): unknown {
  if (typeof v === "string") return readDoc(resolve(base, v), what);
  return v ?? {};
}

function readEndpoint(at: string, v: unknown, base: string, opts: LoadOptions): ConnectorEndpoint {
  const ep = readEndpointDef(at, v, base, opts);
  if (opts.grpcAddress) {
    ep.grpcAddress = opts.grpcAddress;
    ep.codec = "proto";
  }
  return ep;
}

/**
 * A local endpoint's command. `<repo>` stands for this installation of
 * tributary; a command starting with `tributary` runs this installation's
 * CLI, and its `./` or `../` arguments (a connector module such as
 * ./dist/connector.js) are relative to the catalog's folder.
 */
function localCommand(command: string[], base: string): string[] {
  const expanded = command.map((c) => c.replaceAll("<repo>", repoRoot()));
  if (expanded[0] !== "tributary") return expanded;
  const args = expanded.slice(1).map((a) => (a.startsWith("./") || a.startsWith("../") ? resolve(base, a) : a));
  return [process.execPath, join(repoRoot(), "bin", "tributary"), ...args];
}

function readEndpointDef(at: string, v: unknown, base: string, opts: LoadOptions): ConnectorEndpoint {
  if (!isObject(v)) throw new HarnessError(`${at}: endpoint must be a mapping with "connector" or "local"`);
  const env: Record<string, string> = {};
  if (isObject(v.connector)) {
    const image = v.connector.image;
    if (typeof image !== "string") throw new HarnessError(`${at}: endpoint.connector.image must be a string like ghcr.io/<org>/<name>:<tag>`);
    const m = /^(?:[^/]+\/)*([^/:@]+)(?::[^/@]+)?(?:@.+)?$/.exec(image);
    if (!m) throw new HarnessError(`${at}: endpoint.connector.image ${JSON.stringify(image)} is not an image name`);
    const codec = opts.imageCodec ?? "proto";
    return {
      command: [process.execPath, join(repoRoot(), "bin", "tributary"), "run", m[1]!],
      env,
      codec,
      kind: "image",
      image,
      config: readConfig(v.connector.config, base, `${at}: endpoint.connector.config`),
    };
  }
  if (isObject(v.local)) {
    const command = v.local.command;
    if (!Array.isArray(command) || command.length === 0 || !command.every((c) => typeof c === "string")) {
      throw new HarnessError(`${at}: endpoint.local.command must be a non-empty array of strings`);
    }
    for (const [k, val] of Object.entries(v.local.env ?? {})) env[k] = String(val);
    return {
      command: localCommand(command, base),
      env,
      codec: v.local.protobuf === true ? "proto" : "json",
      kind: "local",
      config: readConfig(v.local.config, base, `${at}: endpoint.local.config`),
    };
  }
  throw new HarnessError(`${at}: endpoint must have "connector: {image, config}" or "local: {command, config}"`);
}

/** What a capture and a materialization read alike: the task mapping, its shards, endpoint and bindings array. */
function readTask(kind: string, name: string, def: unknown, base: string, opts: LoadOptions) {
  const at = `${kind} ${JSON.stringify(name)}`;
  if (!isObject(def)) throw new HarnessError(`${at}: must be a mapping`);
  const bindings = def.bindings ?? [];
  if (!Array.isArray(bindings)) throw new HarnessError(`${at}: bindings must be an array`);
  const shards = readShards(at, def.shards);
  const endpoint = { ...readEndpoint(at, def.endpoint, base, opts), logLevel: shards.logLevel };
  return { at, def, bindings: bindings as unknown[], shards, endpoint };
}

/** A binding's collection, given by name or as a mapping with a name. */
function bindingCollection(at: string, b: Record<string, any>, i: number, key: "target" | "source"): string {
  const v = b[key];
  const name = typeof v === "string" ? v : isObject(v) ? v.name : undefined;
  if (typeof name !== "string") throw new HarnessError(`${at}: bindings[${i}].${key} must name a collection`);
  return name;
}

function readCapture(name: string, raw: unknown, base: string, opts: LoadOptions): CaptureDef {
  const { at, def, bindings, shards, endpoint } = readTask("capture", name, raw, base, opts);
  return {
    name,
    endpoint,
    shards,
    bindings: bindings.map((b: unknown, i: number) => {
      if (!isObject(b)) throw new HarnessError(`${at}: bindings[${i}] must be a mapping`);
      const target = bindingCollection(at, b, i, "target");
      return { resource: readConfig(b.resource, base, `${at}: bindings[${i}].resource`), target, backfill: Number(b.backfill ?? 0), disable: b.disable === true };
    }),
    intervalSeconds: def.interval !== undefined ? parseDuration(def.interval, `${at}: interval`) : 300,
  };
}

function readMaterialization(name: string, raw: unknown, base: string, opts: LoadOptions): MaterializationDef {
  const { at, bindings, shards, endpoint } = readTask("materialization", name, raw, base, opts);
  return {
    name,
    endpoint,
    shards,
    bindings: bindings.map((b: unknown, i: number) => {
      if (!isObject(b)) throw new HarnessError(`${at}: bindings[${i}] must be a mapping`);
      const source = bindingCollection(at, b, i, "source");
      if (b.fields !== undefined && !isObject(b.fields)) throw new HarnessError(`${at}: bindings[${i}].fields must be a mapping`);
      return {
        resource: readConfig(b.resource, base, `${at}: bindings[${i}].resource`),
        source,
        fields: (b.fields ?? {}) as FieldsDef,
        backfill: Number(b.backfill ?? 0),
        disable: b.disable === true,
      };
    }),
  };
}
