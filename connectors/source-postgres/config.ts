/**
 * Endpoint and resource configuration: the JSON schemas the connector
 * advertises, and their normalised TypeScript form.
 */
import { ConnectorError } from "../../src/sdk/errors.js";
import { checkRootCert, ROOT_CERT_DESCRIPTION, SSL_MODES, type SslMode } from "../../src/postgres/tls.js";
import { checkTunnel, networkTunnelSchema, type NetworkTunnel, type SshForwarding } from "../../src/net/ssh-tunnel.js";
import { Annotate, Multiline, Secret, StringEnum, Type, type Static } from "../../src/sdk/schema.js";
import { checkAddress } from "../../src/net/address.js";
import { normalizeTableResource, tableResourceSchema, type TableResource } from "../../src/sql/capture-resource.js";

export interface EndpointConfig {
  address: string;
  database: string;
  user: string;
  password: string;
  sslmode: SslMode;
  /** PEM CA certificates to trust for verify-ca / verify-full. */
  sslrootcert?: string;
  /** SSH forwarding to reach the database through a bastion. */
  tunnel?: SshForwarding;
  publication: string;
  /** Apply creates the publication and adds bound tables to it (when the user may). */
  create_publication: boolean;
  slot: string;
  backfill_chunk_size: number;
  /** Schemas to discover; all non-system schemas when empty. */
  schemas: string[];
  /** Tables ("schema.table") captured from now on, without a backfill. */
  skip_backfills: string[];
  heartbeat_interval_seconds: number;
}

export type ResourceConfig = TableResource;

export const configSchema = Type.Object(
  {
    address: Type.String({ title: "Server address", description: "host:port of the primary server (port defaults to 5432).", order: 0 }),
    database: Type.Optional(Type.String({ title: "Database", default: "postgres", order: 1 })),
    user: Type.String({ title: "User", description: "A role with the REPLICATION attribute and SELECT on the captured tables.", order: 2 }),
    password: Type.Optional(Secret({ title: "Password", airbyte_secret: true, default: "", order: 3 })),
    sslmode: Type.Optional(
      StringEnum(SSL_MODES, {
        title: "SSL mode",
        default: "prefer",
        description:
          "As libpq: prefer (the default) uses TLS when the server offers it; require insists on TLS; verify-ca and verify-full also check the server's certificate; allow and disable connect in plain text (allow retries with TLS when the server requires it).",
        order: 4,
      }),
    ),
    sslrootcert: Type.Optional(Multiline({ title: "SSL root certificate", description: ROOT_CERT_DESCRIPTION, order: 5 })),
    publication: Type.Optional(Type.String({ title: "Publication", default: "flow_publication", pattern: "^[^\"\\x00]+$", order: 6 })),
    slot: Type.Optional(Type.String({ title: "Replication slot", default: "flow_slot", pattern: "^[a-z0-9_]{1,63}$", order: 7 })),
    backfill_chunk_size: Type.Optional(Type.Integer({ title: "Backfill chunk size", description: "Rows read per backfill query.", default: 50000, minimum: 1, order: 8 })),
    schemas: Type.Optional(Type.Array(Type.String(), { title: "Schemas to discover", default: [], order: 9 })),
    skip_backfills: Type.Optional(
      Type.Array(Type.String(), {
        title: "Skip backfills",
        description: 'Tables ("schema.table") whose existing rows are not captured: only changes from now on.',
        default: [],
        order: 10,
      }),
    ),
    heartbeat_interval_seconds: Type.Optional(
      Type.Number({
        title: "Heartbeat interval",
        description: "How often a logical message is written so that the slot advances on an idle database.",
        default: 60,
        exclusiveMinimum: 0,
        order: 11,
      }),
    ),
    networkTunnel: Type.Optional(Annotate(networkTunnelSchema, { order: 12 })),
    create_publication: Type.Optional(
      Type.Boolean({
        title: "Create the publication",
        description:
          "Apply creates the publication if it is missing and adds bound tables to it, when the user is allowed to. Off: Validate reports what is missing with the SQL to run. Validate itself never changes the database.",
        default: true,
        order: 13,
      }),
    ),
  },
  { $schema: "http://json-schema.org/draft-07/schema#", title: "PostgreSQL change-data capture" },
);

/** The config as the schema describes it, before normalizeConfig fills defaults. */
export type RawEndpointConfig = Static<typeof configSchema>;

export const resourceConfigSchema = tableResourceSchema("Schema");

/** Fills defaults and checks what the JSON schema cannot, naming the field at fault. */
export function normalizeConfig(raw: unknown): EndpointConfig {
  if (!raw || typeof raw !== "object") throw new ConnectorError("endpoint config must be an object");
  const c = raw as Record<string, unknown>;
  const str = (k: string, dflt?: string): string => {
    const v = c[k] ?? dflt;
    if (typeof v !== "string") throw new ConnectorError(`endpoint config /${k} must be a string${dflt === undefined ? " and is required" : ""}`);
    return v;
  };
  const address = str("address");
  checkAddress(address, 5432);
  const chunk = c.backfill_chunk_size ?? 50000;
  if (!Number.isInteger(chunk) || (chunk as number) < 1) throw new ConnectorError("endpoint config /backfill_chunk_size must be a positive integer");
  const hb = c.heartbeat_interval_seconds ?? 60;
  if (typeof hb !== "number" || !(hb > 0)) throw new ConnectorError("endpoint config /heartbeat_interval_seconds must be a positive number");
  const sslmode = str("sslmode", "prefer");
  if (!(SSL_MODES as readonly string[]).includes(sslmode)) {
    throw new ConnectorError(`endpoint config /sslmode must be one of ${SSL_MODES.join(", ")}`);
  }
  const slot = str("slot", "flow_slot");
  if (!/^[a-z0-9_]{1,63}$/.test(slot)) throw new ConnectorError("endpoint config /slot may hold only lower-case letters, digits and underscores (at most 63)");
  const list = (k: string): string[] => {
    const v = c[k] ?? [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw new ConnectorError(`endpoint config /${k} must be an array of strings`);
    return v as string[];
  };
  const bool = (k: string, dflt: boolean): boolean => {
    const v = c[k] ?? dflt;
    if (typeof v !== "boolean") throw new ConnectorError(`endpoint config /${k} must be true or false`);
    return v;
  };
  return {
    address,
    database: str("database", "postgres"),
    user: str("user"),
    password: str("password", ""),
    sslmode: sslmode as EndpointConfig["sslmode"],
    sslrootcert: checkRootCert(c.sslrootcert, "/sslrootcert"),
    tunnel: checkTunnel(c.networkTunnel as NetworkTunnel | undefined),
    publication: str("publication", "flow_publication"),
    create_publication: bool("create_publication", true),
    slot,
    backfill_chunk_size: chunk as number,
    schemas: list("schemas"),
    skip_backfills: list("skip_backfills"),
    heartbeat_interval_seconds: hb,
  };
}

export const normalizeResource = normalizeTableResource;
