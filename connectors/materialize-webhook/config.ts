/**
 * Endpoint and resource configuration of materialize-webhook: the JSON
 * schemas shown in Flow's UI, and the resolved options.
 */
import { ConnectorError } from "../../src/sdk/errors.js";
import { AT_LEAST_ONCE_DESCRIPTION } from "../../src/sdk/at-least-once.js";
import { Advanced, CollectionName, Secret, StringEnum, Type, type Static } from "../../src/sdk/schema.js";

export const DELIVERY_DESCRIPTION =
  "Delivery is AT-LEAST-ONCE, and EXACTLY-ONCE for receivers that de-duplicate requests by the idempotency key header: " +
  "a batch sent again after a failure carries the same key. " +
  AT_LEAST_ONCE_DESCRIPTION;

const HEADER_NAME = "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$";

export const configSchema = Type.Object(
  {
    url: Type.String({
      title: "URL",
      description: "Where batches are POSTed (http:// or https://). A binding's path is resolved against it.",
      pattern: "^https?://",
      order: 0,
    }),
    format: Type.Optional(
      StringEnum(["json_array", "json_lines"], {
        title: "Body format",
        default: "json_array",
        description: "json_array: the batch is one JSON array of documents (application/json). json_lines: one document per line (application/x-ndjson).",
        order: 1,
      }),
    ),
    batch_size: Type.Optional(Type.Integer({ title: "Batch size", description: "Most documents in one request.", minimum: 1, maximum: 100000, default: 100, order: 2 })),
    hmac_secret: Type.Optional(
      Secret({
        title: "HMAC secret",
        description: "When set, every request carries X-Tributary-Signature: sha256=<hex HMAC-SHA256 of the body under this secret>.",
        order: 3,
      }),
    ),
    headers: Type.Optional(
      Type.Array(
        Type.Object(
          { name: Type.String({ title: "Name", pattern: HEADER_NAME }), value: Secret({ title: "Value" }) },
          { additionalProperties: false },
        ),
        { title: "Extra headers", description: "Headers added to every request, e.g. an Authorization token. Values are secret.", order: 4 },
      ),
    ),
    idempotency_header: Type.Optional(
      Type.String({
        title: "Idempotency key header",
        description: "The header carrying each batch's idempotency key.",
        default: "Idempotency-Key",
        pattern: HEADER_NAME,
        order: 5,
      }),
    ),
    timeout_seconds: Type.Optional(Type.Number({ title: "Request timeout (seconds)", exclusiveMinimum: 0, default: 30, order: 6 })),
    retry: Type.Optional(
      Advanced(
        {
          max_attempts: Type.Optional(Type.Integer({ title: "Attempts", minimum: 1, default: 8 })),
          initial_backoff_ms: Type.Optional(Type.Integer({ title: "First backoff (ms)", minimum: 0, default: 500 })),
          max_backoff_ms: Type.Optional(Type.Integer({ title: "Longest backoff (ms)", minimum: 0, default: 30000 })),
        },
        {
          title: "Retries",
          description: "Requests answered 429 or 5xx, or failing on the network, are retried with exponential backoff (a Retry-After header is honoured).",
          additionalProperties: false,
          order: 7,
        },
      ),
    ),
  },
  { title: "Webhook", description: DELIVERY_DESCRIPTION, additionalProperties: false },
);

export type EndpointConfig = Static<typeof configSchema>;
export type BodyFormat = NonNullable<EndpointConfig["format"]>;

export const resourceConfigSchema = Type.Object(
  {
    /** Resolved against the endpoint URL; "" is the URL itself. */
    path: CollectionName({
      title: "Path",
      description:
        "Resolved against the endpoint URL (with a URL ending in \"/\", \"orders\" is appended to it); \"\" is the URL itself. The URL's query string is kept unless the path has its own. Flow proposes the collection's name. The resolved URL, without the endpoint's query string, is the binding's resource path.",
    }),
  },
  { title: "Webhook binding", additionalProperties: false },
);

export type ResourceConfig = Static<typeof resourceConfigSchema>;

/** The endpoint as the connector uses it, defaults filled in. */
export interface Endpoint {
  url: URL;
  format: BodyFormat;
  batchSize: number;
  hmacSecret?: string;
  headers: Array<{ name: string; value: string }>;
  idempotencyHeader: string;
  timeoutMs: number;
  retry: { attempts: number; initialMs: number; maxMs: number };
}

export function resolveEndpoint(c: EndpointConfig): Endpoint {
  let url: URL;
  try {
    url = new URL(c.url);
  } catch {
    throw new ConnectorError("endpoint config: url is not a valid URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ConnectorError("endpoint config: url must be http:// or https://");
  if (url.username || url.password) throw new ConnectorError("endpoint config: url must not hold a user or password; send credentials in an extra header (e.g. Authorization)");
  const headers = c.headers ?? [];
  const reserved = new Set(["content-type", "content-length", "host", "x-tributary-signature"]);
  const idem = c.idempotency_header ?? "Idempotency-Key";
  for (const h of headers) {
    const n = h.name.toLowerCase();
    if (reserved.has(n) || n === idem.toLowerCase()) throw new ConnectorError(`endpoint config: header ${JSON.stringify(h.name)} is set by the connector and cannot be overridden`);
  }
  return {
    url,
    format: c.format ?? "json_array",
    batchSize: c.batch_size ?? 100,
    ...(c.hmac_secret ? { hmacSecret: c.hmac_secret } : {}),
    headers,
    idempotencyHeader: idem,
    timeoutMs: Math.round((c.timeout_seconds ?? 30) * 1000),
    retry: { attempts: c.retry?.max_attempts ?? 8, initialMs: c.retry?.initial_backoff_ms ?? 500, maxMs: c.retry?.max_backoff_ms ?? 30_000 },
  };
}

/**
 * The URL a binding POSTs to: its path resolved against the endpoint URL,
 * keeping the endpoint's query string (often a token) unless the path has
 * its own.
 */
export function bindingUrl(ep: Pick<Endpoint, "url">, r: ResourceConfig): URL {
  const url = resolvePath(ep, r);
  if (!r.path.includes("?")) url.search = ep.url.search;
  return url;
}

/**
 * The binding's resource path: its URL without the query it takes from the
 * endpoint, which may hold a secret and would be shown with the task.
 */
export function bindingResourcePath(ep: Pick<Endpoint, "url">, r: ResourceConfig): string[] {
  const url = resolvePath(ep, r);
  if (!r.path.includes("?")) url.search = "";
  return [url.href];
}

function resolvePath(ep: Pick<Endpoint, "url">, r: ResourceConfig): URL {
  try {
    return new URL(r.path, ep.url);
  } catch {
    throw new ConnectorError(`resource config: path ${JSON.stringify(r.path)} does not resolve against the endpoint URL`);
  }
}
