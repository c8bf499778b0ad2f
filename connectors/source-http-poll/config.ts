/**
 * source-http-poll configuration: the endpoint (base URL, auth header, rate
 * limit, timeout, poll interval, bounded) and the resource definition each
 * binding carries (path, query parameters, pagination, records, key,
 * incremental cursor). The endpoint's `resources` list is what Discover
 * offers; at Open each binding's own resource config is what is read.
 */
import { ConnectorError } from "../../src/sdk/errors.js";
import { Secret, Type, type Static } from "../../src/sdk/schema.js";

const DRAFT_07 = "http://json-schema.org/draft-07/schema#";

const pointer = (title: string, description: string, dflt?: string) =>
  Type.String({ title, description, pattern: "^(/.*)?$", ...(dflt !== undefined ? { default: dflt } : {}) });

/** A pagination variant's tag: `{const: tag}` alone, as the UI has always been sent it. */
const tag = <T extends string>(t: T) => Type.Unsafe<T>({ const: t });

const paginations = [
  Type.Object({ type: tag("none") }, { title: "None", additionalProperties: false }),
  Type.Object(
    {
      type: tag("cursor"),
      next_pointer: pointer("Next cursor", "JSON pointer to the next page's cursor in a response body; absent, null or empty on the last page."),
      param: Type.String({ minLength: 1, title: "Cursor parameter", description: "Query parameter that takes the cursor." }),
    },
    { title: "Cursor in the body", additionalProperties: false },
  ),
  Type.Object(
    {
      type: tag("page"),
      param: Type.Optional(Type.String({ minLength: 1, default: "page", title: "Page parameter" })),
      size_param: Type.Optional(Type.String({ minLength: 1, default: "per_page", title: "Page size parameter" })),
      size: Type.Optional(Type.Integer({ minimum: 1, default: 100, title: "Page size", description: "A page with fewer records is the last." })),
      first: Type.Optional(Type.Integer({ minimum: 0, default: 1, title: "First page number" })),
    },
    { title: "Page number", additionalProperties: false },
  ),
  Type.Object({ type: tag("link") }, { title: "Link header (RFC 8288 rel=\"next\")", additionalProperties: false }),
] as const;

/** Pagination as the reader uses it: the page variant's defaults filled in by `normalizeResource`. */
export type Pagination = Required<Static<(typeof paginations)[number]>>;

export const resourceSchema = Type.Object(
  {
    name: Type.String({ title: "Name", description: "Name of the resource, unique in the capture.", minLength: 1, order: 0 }),
    path: Type.String({ title: "Path", description: "Path of the listing, appended to the base URL (e.g. /v1/orders).", minLength: 1, order: 1 }),
    params: Type.Optional(
      Type.Unsafe<Record<string, string>>({
        type: "object",
        title: "Query parameters",
        description: "Sent with every request of this resource.",
        additionalProperties: { type: "string" },
        default: {},
        order: 2,
      }),
    ),
    records: Type.Optional(pointer("Records", "JSON pointer to the array of records in a response body; empty when the body is the array.", "")),
    key: Type.Optional(
      Type.Array(pointer("Key pointer", ""), { title: "Key", description: "JSON pointers of the fields identifying a record.", minItems: 1, default: ["/id"], order: 4 }),
    ),
    // oneOf (not TypeBox's anyOf), and no `type`, as before.
    pagination: Type.Optional(
      Type.Unsafe<Static<(typeof paginations)[number]>>({ title: "Pagination", order: 5, default: { type: "none" }, oneOf: [...paginations] }),
    ),
    /** Incremental reads: `field` is a JSON pointer in each record, `param` the query parameter taking the last value seen. */
    cursor: Type.Optional(
      Type.Object(
        {
          field: pointer("Cursor field", "JSON pointer to the record's cursor value (a number, or a string such as an ISO timestamp)."),
          param: Type.String({ minLength: 1, title: "Since parameter", description: "Query parameter that takes the last value seen." }),
        },
        {
          title: "Incremental cursor",
          description:
            "Makes the resource incremental: each sweep sends the largest value of `field` seen so far in query parameter `param`, and is repeated every poll interval. Without it the resource is read once (a backfill).",
          additionalProperties: false,
          order: 6,
        },
      ),
    ),
  },
  { $schema: DRAFT_07, title: "HTTP resource", additionalProperties: false },
);

type RawResourceDef = Static<typeof resourceSchema>;

/** A resource as the reader uses it, defaults filled in (`normalizeResource`). */
export type ResourceDef = Required<Omit<RawResourceDef, "cursor" | "pagination">> & Pick<RawResourceDef, "cursor"> & { pagination: Pagination };

export const configSchema = Type.Object(
  {
    base_url: Type.String({ title: "Base URL", description: "http(s) URL that resource paths are appended to.", pattern: "^https?://", order: 0 }),
    auth_header: Type.Optional(Type.String({ title: "Auth header name", description: "Sent with every request when the value is set.", default: "Authorization", minLength: 1, order: 1 })),
    auth_value: Type.Optional(Secret({ title: "Auth header value", description: 'For example "Bearer <token>".', airbyte_secret: true, default: "", order: 2 })),
    rate_limit: Type.Optional(Type.Number({ title: "Rate limit", description: "Requests per second across all resources; 0 means no limit.", minimum: 0, default: 0, order: 3 })),
    timeout_seconds: Type.Optional(Type.Number({ title: "Request timeout", description: "Seconds before a request is abandoned (and retried).", exclusiveMinimum: 0, default: 30, order: 4 })),
    poll_interval_seconds: Type.Optional(
      Type.Number({ title: "Poll interval", description: "Seconds between two sweeps of an incremental resource that caught up.", minimum: 0, default: 60, order: 5 }),
    ),
    bounded: Type.Optional(
      Type.Boolean({
        title: "Bounded",
        description: "End the session once every resource has been read up to now (a batch read) instead of polling until stopped.",
        default: false,
        order: 6,
      }),
    ),
    resources: Type.Optional(Type.Array(resourceSchema, { title: "Resources", description: "What Discover offers, one binding each.", default: [], order: 7 })),
  },
  { $schema: DRAFT_07, title: "HTTP polling", additionalProperties: false },
);

/** The endpoint config as handlers see it: the SDK fills in the schema's defaults. */
export type EndpointConfig = Required<Omit<Static<typeof configSchema>, "resources">> & { resources: ResourceDef[] };

/** The URL of `path` under `base`, keeping the base's own path (https://h/api + /v1/x = https://h/api/v1/x). */
export function resourceUrl(base: string, path: string): URL {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new ConnectorError("endpoint config /base_url: is not a valid URL");
  }
  if (url.username || url.password) throw new ConnectorError("endpoint config /base_url: holds credentials, which fetch will not send; use auth_header and auth_value");
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
  return url;
}

/** `def` with the pagination defaults filled in (JSON-schema defaults inside oneOf are not applied). */
export function normalizeResource(def: ResourceDef): ResourceDef {
  const p = (def.pagination ?? { type: "none" }) as Partial<Extract<Pagination, { type: "page" }>> & { type: Pagination["type"] };
  const pagination: Pagination =
    p.type === "page" ? { type: "page", param: p.param ?? "page", size_param: p.size_param ?? "per_page", size: p.size ?? 100, first: p.first ?? 1 } : (p as Pagination);
  return { ...def, params: def.params ?? {}, records: def.records ?? "", key: def.key ?? ["/id"], pagination };
}
