/**
 * source-postgres: captures PostgreSQL tables by backfilling them and then
 * following logical replication (pgoutput). See README.md for the database
 * set-up and capture.ts for how the two are kept consistent.
 */
import type { CaptureConnector } from "../../src/sdk/types.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { configSchema, normalizeConfig, normalizeResource, resourceConfigSchema, type EndpointConfig, type ResourceConfig } from "./config.js";
import { connect, hostPort } from "./connection.js";
import { describeConnectError } from "../../src/postgres/connect-errors.js";
import { collectionKey, collectionSchema, listTables, recommendedName } from "./discovery.js";
import { TypeCatalog } from "./type-catalog.js";
import { checkPrerequisites, formatFailures, makeChanges } from "./prerequisites.js";
import { PostgresCapture } from "./capture.js";

/** connect(), with a failure described for the user (Discover and Validate report it as is). */
async function connectOrExplain(cfg: EndpointConfig) {
  try {
    return await connect(cfg);
  } catch (err) {
    const { host, port } = hostPort(cfg.address);
    throw describeConnectError(err, { host, port, user: cfg.user, database: cfg.database, sslmode: cfg.sslmode, sslField: "sslmode" });
  }
}

const connector: CaptureConnector<EndpointConfig, ResourceConfig> = {
  protocol: "capture",
  name: "source-postgres",
  configSchema: configSchema as unknown as Record<string, unknown>,
  resourceConfigSchema: resourceConfigSchema as unknown as Record<string, unknown>,
  documentationUrl: "https://github.com/tributary-dev/tributary/tree/main/connectors/source-postgres",
  resourcePathPointers: ["/namespace", "/stream"],

  /** The source answers a query with this config's credentials. */
  async healthCheck(rawConfig) {
    const client = await connectOrExplain(normalizeConfig(rawConfig));
    try {
      await client.query("SELECT 1");
    } finally {
      await client.end().catch(() => undefined);
    }
  },

  async discover(rawConfig) {
    const cfg = normalizeConfig(rawConfig);
    const client = await connectOrExplain(cfg);
    try {
      const tables = await listTables(client, cfg.schemas);
      const types = new TypeCatalog();
      await types.ensure(client, tables.flatMap((t) => t.columns.map((c) => c.typeOid)));
      return tables.map((t) => ({
        recommendedName: recommendedName(t.schema, t.name),
        resourceConfig: { namespace: t.schema, stream: t.name },
        documentSchema: collectionSchema(t, types),
        key: collectionKey(t),
        // A keyless table's row locator is a key we chose, not the source's.
        isFallbackKey: t.key.length === 0,
        resourcePath: [t.schema, t.name],
      }));
    } finally {
      await client.end();
    }
  },

  async validate(req) {
    const cfg = normalizeConfig(req.config);
    const resources = req.bindings.map((b, i) => normalizeResource(b.resourceConfig, i));
    const client = await connectOrExplain(cfg);
    try {
      // Read-only: what Apply would create is not a failure, and is not made here.
      const { failures } = await checkPrerequisites(client, cfg, resources);
      if (failures.length > 0) throw new ConnectorError(formatFailures(failures));
    } finally {
      await client.end();
    }
    return resources.map((r) => [r.namespace, r.stream]);
  },

  async apply(req) {
    // The publication and its tables, where the config allows it; the slot is created at Open.
    const cfg = normalizeConfig(req.config);
    const resources = req.bindings.map((b, i) => normalizeResource(b.resourceConfig, i));
    const client = await connectOrExplain(cfg);
    try {
      const { changes } = await checkPrerequisites(client, cfg, resources);
      return { actionDescription: (await makeChanges(client, changes)).join("\n") };
    } finally {
      await client.end();
    }
  },

  async open(req, out, ctx) {
    const cfg = normalizeConfig(req.config);
    const bindings = req.bindings.map((b, i) => ({ ...b, resourceConfig: normalizeResource(b.resourceConfig, i) }));
    await new PostgresCapture(cfg, { ...req, config: cfg, bindings }, out, ctx).run();
  },
};

export default connector;
