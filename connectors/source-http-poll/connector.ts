/**
 * source-http-poll: captures paginated JSON listings of REST APIs, built on
 * the resource capture layer (src/sdk/resources.ts), which owns state,
 * checkpoints, backfill markers, retries and the bounded mode.
 *
 * A resource without an incremental cursor is a backfill: `fetchPage` reads
 * one page per call, its page cursor checkpointed after each. A resource
 * with one is incremental: `fetchChanges` sweeps the listing from the
 * largest cursor value seen (one page per call, the sweep's page and running
 * maximum checkpointed after each), then waits the poll interval. Either way
 * a restart resumes at the page after the last committed one.
 */
import { resourceCapture, type Resource, type FetchContext } from "../../src/sdk/resources.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { valueAtPointer } from "../../src/sdk/bindings.js";
import type { JsonSchema } from "../../src/sdk/types.js";
import { configSchema, normalizeResource, resourceSchema, resourceUrl, type EndpointConfig, type ResourceDef } from "./config.js";
import { getJson, RateLimiter, type HttpOptions } from "./http.js";
import { pageUrl, readPage, type PageCursor } from "./pages.js";

type CursorValue = string | number;

/** An incremental resource's changes cursor: a sweep from `since`, at `page`, with the largest cursor value seen so far. */
export interface Sweep {
  since?: CursorValue;
  page?: PageCursor;
  max?: CursorValue;
}

const larger = (a: CursorValue | undefined, b: CursorValue): CursorValue =>
  a === undefined ? b : typeof a === "number" && typeof b === "number" ? Math.max(a, b) : String(b) > String(a) ? b : a;

export type KeyType = "string" | "integer";

/** A permissive object schema requiring the key's locations, each of its type (default string). */
export function documentSchema(key: string[], types: KeyType[] = []): JsonSchema {
  const root: JsonSchema = { type: "object" };
  for (const [k, ptr] of key.entries()) {
    const tokens = ptr.split("/").slice(1).map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
    let node = root as { required?: string[]; properties?: Record<string, JsonSchema> };
    tokens.forEach((t, i) => {
      node.required = [...new Set([...(node.required ?? []), t])];
      node.properties ??= {};
      node.properties[t] ??= i === tokens.length - 1 ? { type: types[k] ?? "string" } : { type: "object" };
      node = node.properties[t] as typeof node;
    });
  }
  return root;
}

/** Reads one page of `def`'s listing. */
async function read(def: ResourceDef, config: EndpointConfig, http: HttpOptions, page: PageCursor | undefined, since: CursorValue | undefined, signal: AbortSignal) {
  const url = pageUrl(config.base_url, def, page, since);
  const res = await getJson(url, def.name, http, signal);
  return readPage(def, config.base_url, url, page, res);
}

/** The key's types as the first page shows them: integer when every value is one, else string (also for an empty page). */
async function sampledKeyTypes(def: ResourceDef, config: EndpointConfig, http: HttpOptions, signal: AbortSignal): Promise<KeyType[]> {
  const { records } = await read(def, config, http, undefined, undefined, signal);
  return def.key.map((ptr) => (records.length > 0 && records.every((r) => Number.isInteger(valueAtPointer(r, ptr))) ? "integer" : "string"));
}

function httpResource(def: ResourceDef, config: EndpointConfig, http: HttpOptions, keyTypes?: KeyType[]): Resource {
  const common = { name: def.name, key: def.key, schema: documentSchema(def.key, keyTypes), resourceConfig: def as unknown as Record<string, unknown> };
  if (!def.cursor) {
    return {
      ...common,
      async fetchPage(page: PageCursor | undefined, ctx: FetchContext) {
        const { records, next } = await read(def, config, http, page, undefined, ctx.signal);
        return { docs: records, ...(next !== undefined ? { next } : {}) };
      },
    };
  }
  const field = def.cursor.field;
  return {
    ...common,
    initialCursor: (): Sweep => ({}),
    intervalMs: config.poll_interval_seconds * 1000,
    async fetchChanges(sweep: Sweep, ctx: FetchContext) {
      const { records, next } = await read(def, config, http, sweep.page, sweep.since, ctx.signal);
      let max = sweep.max;
      for (const r of records) {
        const v = valueAtPointer(r, field);
        if (typeof v === "string" || typeof v === "number") max = larger(max, v);
      }
      const since = sweep.since;
      if (next !== undefined) {
        return { docs: records, cursor: { ...(since !== undefined ? { since } : {}), page: next, ...(max !== undefined ? { max } : {}) }, caughtUp: false };
      }
      // The sweep is done: the next one starts from the largest value it saw.
      const from = max ?? since;
      return { docs: records, cursor: from !== undefined ? { since: from } : {}, caughtUp: true };
    },
  };
}

/** The resources of `defs`; for Discover (`sample`), with key types read from each listing's first page. */
async function declared(config: EndpointConfig, defs: ResourceDef[], signal: AbortSignal, sample: boolean): Promise<Resource[]> {
  resourceUrl(config.base_url, "/"); // fails early on a base URL that does not parse
  const headers: Record<string, string> = config.auth_value ? { [config.auth_header]: config.auth_value } : {};
  const http: HttpOptions = { headers, limiter: new RateLimiter(config.rate_limit), timeoutMs: config.timeout_seconds * 1000 };
  const seen = new Set<string>();
  const out: Resource[] = [];
  for (const raw of defs) {
    const def = normalizeResource(raw);
    if (seen.has(def.name)) throw new ConnectorError(`two resources are named ${JSON.stringify(def.name)}; resource names must be unique`);
    seen.add(def.name);
    out.push(httpResource(def, config, http, sample ? await sampledKeyTypes(def, config, http, signal) : undefined));
  }
  return out;
}

export default resourceCapture<EndpointConfig, ResourceDef>({
  name: "source-http-poll",
  documentationUrl: "https://github.com/tributary-dev/tributary/tree/main/connectors/source-http-poll",
  configSchema,
  resourceConfigSchema: resourceSchema,
  bounded: (config) => config.bounded,
  retry: { attempts: 6, initialMs: 500, maxMs: 60_000 },
  // Discover offers the endpoint's resources; a session reads each binding's own definition.
  resources: (config, ctx, bindings) => declared(config, bindings ? bindings.map((b) => b.resourceConfig) : config.resources, ctx.signal, !bindings),
});
