/**
 * Endpoint and resource configuration of materialize-redis: the JSON schemas
 * shown in Flow's UI, and the resolved connection options.
 */
import type { RedisOptions } from "ioredis";
import { ConnectorError } from "../../src/sdk/errors.js";
import { AT_LEAST_ONCE_DESCRIPTION } from "../../src/sdk/at-least-once.js";
import { checkTunnel, networkTunnelSchema, type NetworkTunnel, type SshForwarding } from "../../src/net/ssh-tunnel.js";

export type Delivery = "exactly_once" | "at_least_once";
export type ValueFormat = "json" | "hash";

export interface EndpointConfig {
  address: string;
  username?: string;
  password?: string;
  database?: number;
  tls?: { enabled?: boolean; skip_verify?: boolean; ca_certificate?: string; server_name?: string };
  delivery?: Delivery;
  advanced?: { internal_prefix?: string; chunk_records?: number };
  networkTunnel?: NetworkTunnel;
}

export interface ResourceConfig {
  prefix: string;
  delta_updates?: boolean;
  format?: ValueFormat;
  ttl_seconds?: number;
  soft_delete?: boolean;
}

export const configSchema = {
  title: "Redis Connection",
  type: "object",
  required: ["address"],
  additionalProperties: false,
  properties: {
    address: {
      type: "string",
      title: "Address",
      description:
        "The Redis server, as redis://host:port, rediss://host:port (TLS) or host:port. The port defaults to 6379.",
      minLength: 1,
      order: 0,
    },
    username: { type: "string", title: "Username", description: "ACL user name (Redis 6+). Leave empty for the default user.", order: 1 },
    password: { type: "string", title: "Password", description: "Password of the user, or of the server's requirepass.", secret: true, order: 2 },
    database: { type: "integer", title: "Database", description: "Database index to write to.", minimum: 0, default: 0, order: 3 },
    tls: {
      type: "object",
      title: "TLS",
      description: "TLS options. TLS is also enabled by a rediss:// address.",
      additionalProperties: false,
      order: 4,
      properties: {
        enabled: { type: "boolean", title: "Use TLS", default: false },
        skip_verify: { type: "boolean", title: "Skip certificate verification", description: "Accept any server certificate. Insecure: for testing only.", default: false },
        ca_certificate: { type: "string", title: "CA certificate", description: "PEM certificate(s) of the authority that signed the server's certificate.", multiline: true },
        server_name: { type: "string", title: "Server name", description: "Name to verify the certificate against, when it differs from the address's host." },
      },
    },
    delivery: {
      type: "string",
      title: "Delivery guarantee",
      enum: ["exactly_once", "at_least_once"],
      default: "exactly_once",
      description:
        "exactly_once (default): each transaction is staged in Redis and applied by server-side scripts only after Flow committed it, so every change is applied exactly once. " +
        `at_least_once: writes go straight to the target keys and streams, which is faster. ${AT_LEAST_ONCE_DESCRIPTION}`,
      order: 5,
    },
    advanced: {
      type: "object",
      title: "Advanced Options",
      advanced: true,
      additionalProperties: false,
      order: 6,
      properties: {
        internal_prefix: {
          type: "string",
          title: "Internal key prefix",
          description: "Prefix of the connector's own keys (staged transactions, progress markers, transaction counters).",
          default: "flow_internal",
          minLength: 1,
        },
        chunk_records: {
          type: "integer",
          title: "Records per chunk",
          description: "How many writes one server-side script applies atomically.",
          default: 1000,
          minimum: 1,
          maximum: 100000,
        },
      },
    },
    networkTunnel: { ...networkTunnelSchema, order: 7 },
  },
} as const;

export const resourceConfigSchema = {
  title: "Redis Binding",
  type: "object",
  required: ["prefix"],
  additionalProperties: false,
  properties: {
    prefix: {
      type: "string",
      title: "Key prefix",
      description:
        "Documents are written to keys <prefix>:<key components, ':'-separated>. With delta updates, the Redis Stream named <prefix> receives one entry per document.",
      minLength: 1,
      "x-collection-name": true,
      order: 0,
    },
    delta_updates: {
      type: "boolean",
      title: "Delta updates",
      description: "Append every document to a Redis Stream instead of keeping one key per document key.",
      default: false,
      "x-delta-updates": true,
      order: 1,
    },
    format: {
      type: "string",
      title: "Value format",
      enum: ["json", "hash"],
      default: "json",
      description: "json: the key's value is the document as JSON text. hash: the key is a hash of the selected fields (strings as-is, other values as JSON).",
      order: 2,
    },
    ttl_seconds: { type: "integer", title: "TTL (seconds)", description: "Expire keys this long after their last write. Standard updates only.", minimum: 1, order: 3 },
    soft_delete: {
      type: "boolean",
      title: "Soft delete",
      description: "Keep a tombstone (the deletion document, whose _meta/op is 'd') instead of removing the key of a deleted document.",
      default: false,
      order: 4,
    },
  },
} as const;

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
