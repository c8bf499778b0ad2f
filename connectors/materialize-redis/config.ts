/**
 * Endpoint and resource configuration of materialize-redis: the JSON schemas
 * shown in Flow's UI, and the resolved connection options.
 */
import type { RedisOptions } from "ioredis";
import { ConnectorError } from "../../src/sdk/errors.js";
import { AT_LEAST_ONCE_DESCRIPTION } from "../../src/sdk/at-least-once.js";
import { checkTunnel, networkTunnelSchema, type SshForwarding } from "../../src/net/ssh-tunnel.js";
import { Advanced, Annotate, CollectionName, DeltaUpdates, Multiline, Secret, StringEnum, Type, type Static } from "../../src/sdk/schema.js";

export const configSchema = Type.Object(
  {
    address: Type.String({
      title: "Address",
      description: "The Redis server, as redis://host:port, rediss://host:port (TLS) or host:port. The port defaults to 6379.",
      minLength: 1,
      order: 0,
    }),
    username: Type.Optional(Type.String({ title: "Username", description: "ACL user name (Redis 6+). Leave empty for the default user.", order: 1 })),
    password: Type.Optional(Secret({ title: "Password", description: "Password of the user, or of the server's requirepass.", order: 2 })),
    database: Type.Optional(Type.Integer({ title: "Database", description: "Database index to write to.", minimum: 0, default: 0, order: 3 })),
    tls: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean({ title: "Use TLS", default: false })),
          skip_verify: Type.Optional(Type.Boolean({ title: "Skip certificate verification", description: "Accept any server certificate. Insecure: for testing only.", default: false })),
          ca_certificate: Type.Optional(Multiline({ title: "CA certificate", description: "PEM certificate(s) of the authority that signed the server's certificate." })),
          server_name: Type.Optional(Type.String({ title: "Server name", description: "Name to verify the certificate against, when it differs from the address's host." })),
        },
        { title: "TLS", description: "TLS options. TLS is also enabled by a rediss:// address.", additionalProperties: false, order: 4 },
      ),
    ),
    delivery: Type.Optional(
      StringEnum(["exactly_once", "at_least_once"], {
        title: "Delivery guarantee",
        default: "exactly_once",
        description:
          "exactly_once (default): each transaction is staged in Redis and applied by server-side scripts only after Flow committed it, so every change is applied exactly once. " +
          `at_least_once: writes go straight to the target keys and streams, which is faster. ${AT_LEAST_ONCE_DESCRIPTION}`,
        order: 5,
      }),
    ),
    advanced: Type.Optional(
      Advanced(
        {
          internal_prefix: Type.Optional(
            Type.String({
              title: "Internal key prefix",
              description: "Prefix of the connector's own keys (staged transactions, progress markers, transaction counters).",
              default: "flow_internal",
              minLength: 1,
            }),
          ),
          chunk_records: Type.Optional(
            Type.Integer({ title: "Records per chunk", description: "How many writes one server-side script applies atomically.", default: 1000, minimum: 1, maximum: 100000 }),
          ),
        },
        { title: "Advanced Options", additionalProperties: false, order: 6 },
      ),
    ),
    networkTunnel: Type.Optional(Annotate(networkTunnelSchema, { order: 7 })),
  },
  { title: "Redis Connection", additionalProperties: false },
);

export type EndpointConfig = Static<typeof configSchema>;
export type Delivery = NonNullable<EndpointConfig["delivery"]>;

export const resourceConfigSchema = Type.Object(
  {
    prefix: CollectionName({
      title: "Key prefix",
      description:
        "Documents are written to keys <prefix>:<key components, ':'-separated>. With delta updates, the Redis Stream named <prefix> receives one entry per document.",
      minLength: 1,
      order: 0,
    }),
    delta_updates: Type.Optional(
      DeltaUpdates({ title: "Delta updates", description: "Append every document to a Redis Stream instead of keeping one key per document key.", order: 1 }),
    ),
    format: Type.Optional(
      StringEnum(["json", "hash"], {
        title: "Value format",
        default: "json",
        description: "json: the key's value is the document as JSON text. hash: the key is a hash of the selected fields (strings as-is, other values as JSON).",
        order: 2,
      }),
    ),
    ttl_seconds: Type.Optional(Type.Integer({ title: "TTL (seconds)", description: "Expire keys this long after their last write. Standard updates only.", minimum: 1, order: 3 })),
    soft_delete: Type.Optional(
      Type.Boolean({
        title: "Soft delete",
        description: "Keep a tombstone (the deletion document, whose _meta/op is 'd') instead of removing the key of a deleted document.",
        default: false,
        order: 4,
      }),
    ),
  },
  { title: "Redis Binding", additionalProperties: false },
);

export type ResourceConfig = Static<typeof resourceConfigSchema>;
export type ValueFormat = NonNullable<ResourceConfig["format"]>;

export interface Endpoint {
  host: string;
  port: number;
  tls: boolean;
  options: RedisOptions;
  /** SSH forwarding to reach Redis through a bastion. */
  tunnel: SshForwarding | undefined;
  delivery: Delivery;
  internalPrefix: string;
  chunkRecords: number;
}

/** The address for an error message, unless it may hold credentials. */
function shown(address: string): string {
  return address.includes("@") ? "(not shown: it holds user information)" : JSON.stringify(address);
}

/** Parses an address into host, port and whether it asks for TLS. */
export function parseAddress(address: string): { host: string; port: number; tls: boolean } {
  const text = address.trim();
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `redis://${text}`);
  } catch {
    throw new ConnectorError(`address ${shown(address)} is not host:port, redis://host:port or rediss://host:port`);
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new ConnectorError(`address must use redis:// or rediss://, not ${url.protocol}//`);
  }
  if (!url.hostname) throw new ConnectorError(`address ${shown(address)} has no host`);
  if (url.username || url.password) throw new ConnectorError("put the user name and password in their own fields, not in the address");
  if (url.pathname && url.pathname !== "/") throw new ConnectorError("choose the database with the database field, not in the address");
  const port = url.port ? Number(url.port) : 6379;
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return { host, port, tls: url.protocol === "rediss:" };
}

export function resolveEndpoint(cfg: EndpointConfig): Endpoint {
  const { host, port, tls: tlsByScheme } = parseAddress(cfg.address);
  const useTls = tlsByScheme || cfg.tls?.enabled === true;
  const pem = cfg.tls?.ca_certificate;
  if (pem && !pem.includes("-----BEGIN")) throw new ConnectorError("tls.ca_certificate must hold PEM text (-----BEGIN CERTIFICATE-----...)");
  const options: RedisOptions = {
    host,
    port,
    username: cfg.username || undefined,
    password: cfg.password || undefined,
    db: cfg.database ?? 0,
  };
  if (useTls) {
    const ca = cfg.tls?.ca_certificate;
    options.tls = {
      rejectUnauthorized: !(cfg.tls?.skip_verify ?? false),
      ca: ca || undefined,
      servername: cfg.tls?.server_name || host,
    };
  }
  return {
    host,
    port,
    tls: useTls,
    options,
    tunnel: checkTunnel(cfg.networkTunnel),
    delivery: cfg.delivery ?? "exactly_once",
    internalPrefix: cfg.advanced?.internal_prefix ?? "flow_internal",
    chunkRecords: cfg.advanced?.chunk_records ?? 1000,
  };
}
