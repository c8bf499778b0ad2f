/**
 * Endpoint and resource configuration: the JSON schemas Flow's UI renders,
 * and their parsed form with defaults.
 */
import { ConnectorError } from "../../src/sdk/errors.js";
import { splitAddress } from "../../src/net/address.js";
import { advancedOptions, deltaUpdatesProperty, hardDeleteProperty, passwordProperty, tableProperty, userProperty } from "../../src/sql/config-schema.js";
import { MYSQL_SSL_MODES, type MysqlSslMode, type MysqlTarget } from "../../src/mysql/connect.js";

export interface EndpointConfig {
  address: string;
  user: string;
  password?: string;
  database: string;
  hardDelete?: boolean;
  advanced?: { sslmode?: MysqlSslMode; sslrootcert?: string };
}

export interface ResourceConfig {
  table: string;
  delta_updates?: boolean;
}

export const configSchema = {
  title: "SQL Connection",
  type: "object",
  required: ["address", "user", "database"],
  properties: {
    address: { type: "string", title: "Address", description: "Host and port of the database, as host:port. The port defaults to 3306.", order: 0 },
    user: userProperty,
    password: passwordProperty,
    database: {
      type: "string",
      title: "Database",
      description: "Name of the logical database to materialize to; it holds the bound tables and the checkpoints table.",
      order: 3,
    },
    hardDelete: hardDeleteProperty(4),
    advanced: advancedOptions({
      sslmode: {
        type: "string",
        title: "SSL Mode",
        description:
          "preferred (the default) uses TLS when the server offers it; required insists on TLS; verify_ca also checks the certificate chain against the root certificate; verify_identity also checks the host name; disabled connects in plain text.",
        enum: [...MYSQL_SSL_MODES],
      },
      sslrootcert: { type: "string", title: "SSL Root Certificate", description: "PEM certificate of the CA for verify_ca and verify_identity.", multiline: true },
    }),
  },
};

export const resourceConfigSchema = {
  title: "SQL Table",
  type: "object",
  required: ["table"],
  properties: {
    table: tableProperty,
    delta_updates: deltaUpdatesProperty,
  },
};

export interface Endpoint extends MysqlTarget {
  database: string;
  hardDelete: boolean;
}

export function resolveEndpoint(c: EndpointConfig): Endpoint {
  if (!c || typeof c !== "object") throw new ConnectorError("endpoint config must be an object");
  if (typeof c.address !== "string" || c.address.trim() === "") throw new ConnectorError('endpoint config field "address" is required (host or host:port)');
  if (typeof c.user !== "string" || c.user === "") throw new ConnectorError('endpoint config field "user" is required');
  if (typeof c.database !== "string" || c.database === "") throw new ConnectorError('endpoint config field "database" is required');
  const sslmode = c.advanced?.sslmode ?? "preferred";
  if (!MYSQL_SSL_MODES.includes(sslmode)) {
    throw new ConnectorError(`endpoint config field "advanced.sslmode" must be one of ${MYSQL_SSL_MODES.join(", ")}, not ${JSON.stringify(sslmode)}`);
  }
  const rootcert = c.advanced?.sslrootcert?.trim() || undefined;
  if ((sslmode === "verify_ca" || sslmode === "verify_identity") && !rootcert) {
    throw new ConnectorError(`endpoint config field "advanced.sslrootcert" is required when "advanced.sslmode" is ${sslmode}`);
  }
  const { host, port } = splitAddress(c.address.trim(), 3306);
  return { host, port, user: c.user, password: c.password ?? "", database: c.database, hardDelete: c.hardDelete ?? false, sslmode, sslrootcert: rootcert };
}

export function resourcePath(r: ResourceConfig): string[] {
  if (!r || typeof r.table !== "string" || r.table === "") throw new ConnectorError('resource config field "table" is required');
  return [r.table];
}
