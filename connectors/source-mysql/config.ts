/**
 * Endpoint and resource configuration: the JSON schemas the connector
 * advertises, and their normalised TypeScript form.
 */
import { ConnectorError } from "../../src/sdk/errors.js";
import { checkAddress, hostPort as splitHostPort } from "../../src/net/address.js";
import { normalizeTableResource, tableResourceSchema, type TableResource } from "../../src/sql/capture-resource.js";
import { Secret, Type, type Static } from "../../src/sdk/schema.js";
import { advancedOptions } from "../../src/sql/config-schema.js";
import { mysqlTlsProperties } from "../../src/mysql/tls-schema.js";
import { parseZone } from "./timezone.js";
import { MYSQL_SSL_MODES, type MysqlSslMode } from "../../src/mysql/connect.js";

export interface EndpointConfig {
  address: string;
  user: string;
  password: string;
  /** IANA zone or ±HH:MM that DATETIME values are read in; the server's time_zone when empty. */
  timezone: string;
  /** Replica server id of the binlog connection; random per session when 0. */
  server_id: number;
  backfill_chunk_size: number;
  /** Databases to discover; all non-system databases when empty. */
  databases: string[];
  heartbeat_interval_seconds: number;
  /** TLS of every connection (queries and binlog), as materialize-mysql's advanced.sslmode. */
  sslmode: MysqlSslMode;
  /** PEM CA certificate(s) for verify_ca / verify_identity. */
  sslrootcert?: string;
}

export type ResourceConfig = TableResource;

export const configSchema = Type.Object(
  {
    address: Type.String({ title: "Server address", description: "host:port of the primary server (port defaults to 3306).", order: 0 }),
    user: Type.String({ title: "User", description: "A user with REPLICATION SLAVE, REPLICATION CLIENT and SELECT.", order: 1 }),
    password: Type.Optional(Secret({ title: "Password", airbyte_secret: true, default: "", order: 2 })),
    timezone: Type.Optional(
      Type.String({
        title: "Time zone of DATETIME values",
        description: 'An IANA zone ("Europe/Berlin") or offset ("-07:00") that DATETIME columns are read in. Defaults to the server\'s time_zone. TIMESTAMP columns carry their own zone and ignore this.',
        default: "",
        order: 3,
      }),
    ),
    server_id: Type.Optional(
      Type.Integer({
        title: "Replica server id",
        description: "The server id the capture's binlog connection uses; it must differ from every server and replica in the topology. 0 (the default) picks a random one per session.",
        default: 0,
        minimum: 0,
        maximum: 4294967295,
        order: 4,
      }),
    ),
    backfill_chunk_size: Type.Optional(Type.Integer({ title: "Backfill chunk size", description: "Rows read per backfill query.", default: 50000, minimum: 1, order: 5 })),
    databases: Type.Optional(Type.Array(Type.String(), { title: "Databases to discover", default: [], order: 6 })),
    heartbeat_interval_seconds: Type.Optional(
      Type.Number({ title: "Heartbeat interval", description: "How often an idle capture checkpoints its binlog position.", default: 60, exclusiveMinimum: 0, order: 7 }),
    ),
    advanced: Type.Optional(advancedOptions(mysqlTlsProperties, 8)),
  },
  { $schema: "http://json-schema.org/draft-07/schema#", title: "MySQL / MariaDB change-data capture" },
);

/** The config as the schema describes it, before normalizeConfig fills defaults. */
export type RawEndpointConfig = Static<typeof configSchema>;

export const resourceConfigSchema = tableResourceSchema("Database");

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
  checkAddress(address, 3306);
  const int = (k: string, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const v = c[k] ?? dflt;
    if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) throw new ConnectorError(`endpoint config /${k} must be an integer from ${min} to ${max}`);
    return v as number;
  };
  const hb = c.heartbeat_interval_seconds ?? 60;
  if (typeof hb !== "number" || !(hb > 0)) throw new ConnectorError("endpoint config /heartbeat_interval_seconds must be a positive number");
  const timezone = str("timezone", "");
  if (timezone !== "" && !parseZone(timezone)) throw new ConnectorError(`endpoint config /timezone must be an IANA zone name or an offset like "+02:00"`);
  const dbs = c.databases ?? [];
  if (!Array.isArray(dbs) || dbs.some((x) => typeof x !== "string")) throw new ConnectorError("endpoint config /databases must be an array of strings");
  const adv = (c.advanced ?? {}) as Record<string, unknown>;
  if (typeof adv !== "object" || Array.isArray(adv)) throw new ConnectorError("endpoint config /advanced must be an object");
  const sslmode = (adv.sslmode ?? "preferred") as MysqlSslMode;
  if (!MYSQL_SSL_MODES.includes(sslmode)) throw new ConnectorError(`endpoint config /advanced/sslmode must be one of ${MYSQL_SSL_MODES.join(", ")}`);
  if (adv.sslrootcert !== undefined && typeof adv.sslrootcert !== "string") throw new ConnectorError("endpoint config /advanced/sslrootcert must be a string");
  const sslrootcert = (adv.sslrootcert as string | undefined)?.trim() || undefined;
  if ((sslmode === "verify_ca" || sslmode === "verify_identity") && !sslrootcert) {
    throw new ConnectorError(`endpoint config /advanced/sslrootcert is required when /advanced/sslmode is ${sslmode}`);
  }
  return {
    sslmode,
    sslrootcert,
    address,
    user: str("user"),
    password: str("password", ""),
    timezone,
    server_id: int("server_id", 0, 0, 4294967295),
    backfill_chunk_size: int("backfill_chunk_size", 50000, 1),
    databases: dbs as string[],
    heartbeat_interval_seconds: hb,
  };
}

export const normalizeResource = normalizeTableResource;

export function hostPort(address: string): { host: string; port: number } {
  return splitHostPort(address, 3306);
}
