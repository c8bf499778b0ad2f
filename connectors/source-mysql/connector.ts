/**
 * source-mysql: captures MySQL and MariaDB tables by backfilling them and
 * following the binary log. See README.md for the server set-up and
 * capture.ts for how the two are kept consistent.
 */
import type { CaptureConnector } from "../../src/sdk/types.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { configSchema, normalizeConfig, normalizeResource, resourceConfigSchema, type EndpointConfig, type ResourceConfig } from "./config.js";
import { connect } from "./connection.js";
import { collectionKey, collectionSchema, listTables, recommendedName } from "./discovery.js";
import { checkPrerequisites, formatFailures } from "./prerequisites.js";
import { MySqlCapture } from "./capture.js";

const connector: CaptureConnector<EndpointConfig, ResourceConfig> = {
  protocol: "capture",
  name: "source-mysql",
  configSchema: configSchema as unknown as Record<string, unknown>,
  resourceConfigSchema: resourceConfigSchema as unknown as Record<string, unknown>,
  documentationUrl: "https://github.com/tributary-dev/tributary/tree/main/connectors/source-mysql",
  resourcePathPointers: ["/namespace", "/stream"],

  /** The source answers a query with this config's credentials. */
  async healthCheck(rawConfig) {
    const conn = await connect(normalizeConfig(rawConfig));
    try {
      await conn.query("SELECT 1");
    } finally {
      await conn.end().catch(() => undefined);
    }
  },

  async discover(rawConfig) {
    const cfg = normalizeConfig(rawConfig);
    const conn = await connect(cfg);
    try {
      const tables = await listTables(conn, cfg.databases);
      return tables.map((t) => ({
        recommendedName: recommendedName(t.schema, t.name),
        resourceConfig: { namespace: t.schema, stream: t.name },
        documentSchema: collectionSchema(t),
        key: collectionKey(t),
        // A unique index is a key we chose among several, and a row locator one we made up: neither is the table's own.
        isFallbackKey: t.keySource !== "primary key",
        resourcePath: [t.schema, t.name],
      }));
    } finally {
      await conn.end();
    }
  },

  async validate(req) {
    const cfg = normalizeConfig(req.config);
    const resources = req.bindings.map((b, i) => normalizeResource(b.resourceConfig, i));
    const conn = await connect(cfg);
    try {
      const failures = await checkPrerequisites(conn, cfg, resources, cfg.server_id);
      if (failures.length > 0) throw new ConnectorError(formatFailures(failures));
    } finally {
      await conn.end();
    }
    return resources.map((r) => [r.namespace, r.stream]);
  },

  async apply() {
    return { actionDescription: "" };
  },

  async open(req, out, ctx) {
    const cfg = normalizeConfig(req.config);
    const bindings = req.bindings.map((b, i) => ({ ...b, resourceConfig: normalizeResource(b.resourceConfig, i) }));
    await new MySqlCapture(cfg, { ...req, config: cfg, bindings }, out, ctx).run();
  },
};

export default connector;
