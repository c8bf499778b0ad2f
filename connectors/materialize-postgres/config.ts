/**
 * Endpoint and resource configuration: the JSON schemas Flow's UI renders
 * (titles, descriptions, order, secret), and their parsed form with defaults.
 */
import { ConnectorError } from "../../src/sdk/errors.js";
import { checkRootCert, ROOT_CERT_DESCRIPTION, SSL_MODES, type SslMode } from "../../src/postgres/tls.js";
import { splitAddress } from "../../src/net/address.js";
import { advancedOptions, deltaUpdatesProperty, hardDeleteProperty, passwordProperty, tableProperty, userProperty } from "../../src/sql/config-schema.js";
import { checkTunnel, networkTunnelSchema, type NetworkTunnel, type SshForwarding } from "../../src/net/ssh-tunnel.js";

export { SSL_MODES, type SslMode };

export interface EndpointConfig {
  address: string;
  user: string;
  password?: string;
  database?: string;
  schema?: string;
  hardDelete?: boolean;
  advanced?: { sslmode?: SslMode; sslrootcert?: string };
  networkTunnel?: NetworkTunnel;
}

export interface ResourceConfig {
  table: string;
  schema?: string;
  delta_updates?: boolean;
}

export const configSchema = {
  title: "SQL Connection",
  type: "object",
  required: ["address", "user"],
  properties: {
    address: {
      type: "string",
      title: "Address",
      description: "Host and port of the database, as host:port. The port defaults to 5432.",
      order: 0,
    },
    user: userProperty,
    password: passwordProperty,
    database: { type: "string", title: "Database", description: "Name of the logical database to materialize to.", order: 3 },
    schema: {
      type: "string",
      title: "Database Schema",
      description:
        "Database schema for bound collection tables (unless overridden within the binding resource configuration) as well as associated materialization metadata tables.",
      default: "public",
      pattern: "^[^.]+$",
      order: 4,
    },
    hardDelete: hardDeleteProperty(5),
    advanced: advancedOptions({
      sslmode: {
        type: "string",
        title: "SSL Mode",
        description:
          "Overrides SSL connection behavior by setting the 'sslmode' parameter, as libpq does: prefer (the default) uses TLS when the server offers it; require insists on TLS; verify-ca and verify-full also check the server's certificate; allow and disable connect in plain text (allow retries with TLS when the server requires it).",
        enum: [...SSL_MODES],
      },
      sslrootcert: { type: "string", title: "SSL Root Certificate", description: ROOT_CERT_DESCRIPTION, multiline: true },
    }),
    networkTunnel: networkTunnelSchema,
  },
};

export const resourceConfigSchema = {
  title: "SQL Table",
  type: "object",
  required: ["table"],
  properties: {
    table: tableProperty,
    schema: {
      type: "string",
      title: "Alternative Schema",
      description: "Alternative schema for this table (optional).",
      "x-schema-name": true,
    },
    delta_updates: deltaUpdatesProperty,
  },
};

export interface Endpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  schema: string;
  hardDelete: boolean;
  /** libpq's default, prefer, when the config names none. */
  sslmode: SslMode;
  sslrootcert: string | undefined;
  /** SSH forwarding to reach the database through a bastion. */
  tunnel: SshForwarding | undefined;
}

/** Resolves defaults and checks what the schema cannot express. */
export function resolveEndpoint(c: EndpointConfig): Endpoint {
  if (!c || typeof c !== "object") throw new ConnectorError("endpoint config must be an object");
  if (typeof c.address !== "string" || c.address.trim() === "") throw new ConnectorError("endpoint config field \"address\" is required (host or host:port)");
  if (typeof c.user !== "string" || c.user === "") throw new ConnectorError("endpoint config field \"user\" is required");
  if (/^[a-z][a-z0-9+.-]*:\/\/|@/i.test(c.address.trim())) {
    // Not quoted: a URL here usually carries a password.
    throw new ConnectorError(
      'endpoint config field "address" must be host or host:port, not a URL or user@host: put the user, password and database in their own fields',
    );
  }
  const { host, port } = splitAddress(c.address.trim(), 5432);
  const sslmode = c.advanced?.sslmode;
  if (sslmode !== undefined && !SSL_MODES.includes(sslmode)) {
    throw new ConnectorError(`endpoint config field "advanced.sslmode" must be one of ${SSL_MODES.join(", ")}, not ${JSON.stringify(sslmode)}`);
  }
  return {
    host,
    port,
    user: c.user,
    password: c.password ?? "",
    database: c.database || c.user,
    schema: c.schema || "public",
    hardDelete: c.hardDelete ?? false,
    sslmode: sslmode ?? "prefer",
    sslrootcert: checkRootCert(c.advanced?.sslrootcert, "advanced.sslrootcert"),
    tunnel: checkTunnel(c.networkTunnel),
  };
}

export function resourcePath(r: ResourceConfig, endpoint: Endpoint): string[] {
  if (!r || typeof r.table !== "string" || r.table === "") throw new ConnectorError("resource config field \"table\" is required");
  return [r.schema || endpoint.schema, r.table];
}
