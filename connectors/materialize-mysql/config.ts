/**
 * Endpoint and resource configuration: the JSON schemas Flow's UI renders,
 * and their parsed form with defaults.
 */
import { ConnectorError } from "../../src/sdk/errors.js";
import { splitAddress } from "../../src/net/address.js";
import { advancedOptions, deltaUpdatesProperty, hardDeleteProperty, passwordProperty, tableProperty, userProperty } from "../../src/sql/config-schema.js";
import { MYSQL_SSL_MODES, type MysqlTarget } from "../../src/mysql/connect.js";
import { mysqlTlsProperties } from "../../src/mysql/tls-schema.js";
import { Type, type Static } from "../../src/sdk/schema.js";

export const configSchema = Type.Object(
  {
    address: Type.String({ title: "Address", description: "Host and port of the database, as host:port. The port defaults to 3306.", order: 0 }),
    user: userProperty,
    password: Type.Optional(passwordProperty),
    database: Type.String({
      title: "Database",
      description: "Name of the logical database to materialize to; it holds the bound tables and the checkpoints table.",
      order: 3,
    }),
    hardDelete: Type.Optional(hardDeleteProperty(4)),
    advanced: Type.Optional(advancedOptions(mysqlTlsProperties)),
  },
  { title: "SQL Connection" },
);

export type EndpointConfig = Static<typeof configSchema>;

export const resourceConfigSchema = Type.Object(
  {
    table: tableProperty,
    delta_updates: Type.Optional(deltaUpdatesProperty),
  },
  { title: "SQL Table" },
);

export type ResourceConfig = Static<typeof resourceConfigSchema>;

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
