/**
 * Endpoint and resource configuration: the JSON schemas Flow's UI renders
 * (titles, descriptions, order, secret), and their parsed form with defaults.
 */
import { ConnectorError } from "../../src/sdk/errors.js";
import { checkRootCert, ROOT_CERT_DESCRIPTION, SSL_MODES, type SslMode } from "../../src/postgres/tls.js";
import { splitAddress } from "../../src/net/address.js";
import { advancedOptions, deltaUpdatesProperty, hardDeleteProperty, passwordProperty, tableProperty, userProperty } from "../../src/sql/config-schema.js";
import { checkTunnel, networkTunnelSchema, type SshForwarding } from "../../src/net/ssh-tunnel.js";
import { Multiline, SchemaName, StringEnum, Type, type Static } from "../../src/sdk/schema.js";

export { SSL_MODES, type SslMode };

export const configSchema = Type.Object(
  {
    address: Type.String({ title: "Address", description: "Host and port of the database, as host:port. The port defaults to 5432.", order: 0 }),
    user: userProperty,
    password: Type.Optional(passwordProperty),
    database: Type.Optional(Type.String({ title: "Database", description: "Name of the logical database to materialize to.", order: 3 })),
    schema: Type.Optional(
      Type.String({
        title: "Database Schema",
        description:
          "Database schema for bound collection tables (unless overridden within the binding resource configuration) as well as associated materialization metadata tables.",
        default: "public",
        pattern: "^[^.]+$",
        order: 4,
      }),
    ),
    hardDelete: Type.Optional(hardDeleteProperty(5)),
    advanced: Type.Optional(
      advancedOptions({
        sslmode: Type.Optional(
          StringEnum(SSL_MODES, {
            title: "SSL Mode",
            description:
              "Overrides SSL connection behavior by setting the 'sslmode' parameter, as libpq does: prefer (the default) uses TLS when the server offers it; require insists on TLS; verify-ca and verify-full also check the server's certificate; allow and disable connect in plain text (allow retries with TLS when the server requires it).",
          }),
        ),
        sslrootcert: Type.Optional(Multiline({ title: "SSL Root Certificate", description: ROOT_CERT_DESCRIPTION })),
      }),
    ),
    networkTunnel: Type.Optional(networkTunnelSchema),
  },
  { title: "SQL Connection" },
);

export type EndpointConfig = Static<typeof configSchema>;

export const resourceConfigSchema = Type.Object(
  {
    table: tableProperty,
    schema: Type.Optional(SchemaName({ title: "Alternative Schema", description: "Alternative schema for this table (optional)." })),
    delta_updates: Type.Optional(deltaUpdatesProperty),
  },
  { title: "SQL Table" },
);

export type ResourceConfig = Static<typeof resourceConfigSchema>;

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
