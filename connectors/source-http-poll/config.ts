/**
 * source-http-poll configuration: the endpoint (base URL, auth header, rate
 * limit, timeout, poll interval, bounded) and the resource definition each
 * binding carries (path, query parameters, pagination, records, key,
 * incremental cursor). The endpoint's `resources` list is what Discover
 * offers; at Open each binding's own resource config is what is read.
 */
import { ConnectorError } from "../../src/sdk/errors.js";

export type Pagination =
  | { type: "none" }
  | { type: "cursor"; next_pointer: string; param: string }
  | { type: "page"; param: string; size_param: string; size: number; first: number }
  | { type: "link" };

export interface ResourceDef {
  name: string;
  path: string;
  params: Record<string, string>;
  records: string;
  key: string[];
  pagination: Pagination;
  /** Incremental reads: `field` is a JSON pointer in each record, `param` the query parameter taking the last value seen. */
  cursor?: { field: string; param: string };
}

export interface EndpointConfig {
  base_url: string;
  auth_header: string;
  auth_value: string;
  rate_limit: number;
  timeout_seconds: number;
  poll_interval_seconds: number;
  bounded: boolean;
  resources: ResourceDef[];
}

const pointer = (title: string, description: string, dflt?: string) => ({
  type: "string",
  title,
  description,
  pattern: "^(/.*)?$",
  ...(dflt !== undefined ? { default: dflt } : {}),
});

export const resourceSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "HTTP resource",
  type: "object",
  required: ["name", "path"],
  properties: {
    name: { type: "string", title: "Name", description: "Name of the resource, unique in the capture.", minLength: 1, order: 0 },
    path: { type: "string", title: "Path", description: "Path of the listing, appended to the base URL (e.g. /v1/orders).", minLength: 1, order: 1 },
    params: {
      type: "object",
      title: "Query parameters",
      description: "Sent with every request of this resource.",
      additionalProperties: { type: "string" },
      default: {},
      order: 2,
    },
    records: pointer("Records", "JSON pointer to the array of records in a response body; empty when the body is the array.", ""),
    key: { type: "array", title: "Key", description: "JSON pointers of the fields identifying a record.", items: pointer("Key pointer", ""), minItems: 1, default: ["/id"], order: 4 },
    pagination: {
      title: "Pagination",
      order: 5,
      default: { type: "none" },
      oneOf: [
        { title: "None", type: "object", required: ["type"], properties: { type: { const: "none" } }, additionalProperties: false },
        {
          title: "Cursor in the body",
          type: "object",
          required: ["type", "next_pointer", "param"],
          properties: {
            type: { const: "cursor" },
            next_pointer: pointer("Next cursor", "JSON pointer to the next page's cursor in a response body; absent, null or empty on the last page."),
            param: { type: "string", minLength: 1, title: "Cursor parameter", description: "Query parameter that takes the cursor." },
          },
          additionalProperties: false,
        },
        {
          title: "Page number",
          type: "object",
          required: ["type"],
          properties: {
            type: { const: "page" },
            param: { type: "string", minLength: 1, default: "page", title: "Page parameter" },
            size_param: { type: "string", minLength: 1, default: "per_page", title: "Page size parameter" },
            size: { type: "integer", minimum: 1, default: 100, title: "Page size", description: "A page with fewer records is the last." },
            first: { type: "integer", minimum: 0, default: 1, title: "First page number" },
          },
          additionalProperties: false,
        },
        { title: "Link header (RFC 8288 rel=\"next\")", type: "object", required: ["type"], properties: { type: { const: "link" } }, additionalProperties: false },
      ],
    },
    cursor: {
      type: "object",
      title: "Incremental cursor",
      description:
        "Makes the resource incremental: each sweep sends the largest value of `field` seen so far in query parameter `param`, and is repeated every poll interval. Without it the resource is read once (a backfill).",
      required: ["field", "param"],
      properties: {
        field: pointer("Cursor field", "JSON pointer to the record's cursor value (a number, or a string such as an ISO timestamp)."),
        param: { type: "string", minLength: 1, title: "Since parameter", description: "Query parameter that takes the last value seen." },
      },
      additionalProperties: false,
      order: 6,
    },
  },
  additionalProperties: false,
};

export const configSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "HTTP polling",
  type: "object",
  required: ["base_url"],
  properties: {
    base_url: { type: "string", title: "Base URL", description: "http(s) URL that resource paths are appended to.", pattern: "^https?://", order: 0 },
    auth_header: { type: "string", title: "Auth header name", description: "Sent with every request when the value is set.", default: "Authorization", minLength: 1, order: 1 },
    auth_value: { type: "string", title: "Auth header value", description: 'For example "Bearer <token>".', secret: true, airbyte_secret: true, default: "", order: 2 },
    rate_limit: { type: "number", title: "Rate limit", description: "Requests per second across all resources; 0 means no limit.", minimum: 0, default: 0, order: 3 },
    timeout_seconds: { type: "number", title: "Request timeout", description: "Seconds before a request is abandoned (and retried).", exclusiveMinimum: 0, default: 30, order: 4 },
    poll_interval_seconds: { type: "number", title: "Poll interval", description: "Seconds between two sweeps of an incremental resource that caught up.", minimum: 0, default: 60, order: 5 },
    bounded: { type: "boolean", title: "Bounded", description: "End the session once every resource has been read up to now (a batch read) instead of polling until stopped.", default: false, order: 6 },
    resources: { type: "array", title: "Resources", description: "What Discover offers, one binding each.", items: resourceSchema, default: [], order: 7 },
  },
  additionalProperties: false,
};

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
