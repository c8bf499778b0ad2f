/**
 * materialize-mysql: materializes Flow collections into MySQL or MariaDB
 * tables, exactly once. The destination is authoritative: each
 * transaction's runtime checkpoint commits in the same database transaction
 * as its rows, under a per-key-range fence that shuts out stale sessions.
 */
import { equals, fromBinary } from "@bufbuild/protobuf";
import { CheckpointSchema } from "../../src/gen/consumer/protocol/protocol_pb.js";
import type { MaterializationSpec_Binding } from "../../src/gen/flow/flow_pb.js";
import { mysqlIdentifierProblem, quoteMysqlIdentifier } from "../../src/mysql/quote.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { ZERO_CHECKPOINT, type MaterializeConnector, type ValidatedBinding } from "../../src/sdk/types.js";
import { planTable } from "../../src/sql/apply-plan.js";
import type { Dialect } from "../../src/sql/dialect.js";
import { CHECKPOINTS_TABLE, installFence } from "../../src/sql/fence.js";
import { foldName } from "../../src/sql/names.js";
import { buildTable, type Table } from "../../src/sql/table.js";
import { validateBinding } from "../../src/sql/validate.js";
import { connect, querier, statementError, type MysqlConnection } from "./client.js";
import { configSchema, resolveEndpoint, resourceConfigSchema, resourcePath, type Endpoint, type EndpointConfig, type ResourceConfig } from "./config.js";
import { mysqlDdl, mysqlDialect, mysqlFence, OWNED_TABLE_COMMENT } from "./dialect.js";
import { readInfoSchema, readServerInfo, type InfoSchema, type ServerInfo } from "./introspect.js";
import { createStagingTables, MysqlTransactor } from "./transactor.js";

const CHECKPOINTS_IDENT = quoteMysqlIdentifier(CHECKPOINTS_TABLE);

async function withConn<T>(ep: Endpoint, fn: (c: MysqlConnection) => Promise<T>): Promise<T> {
  const conn = await connect(ep);
  try {
    return await fn(conn);
  } finally {
    await conn.end().catch(() => undefined);
  }
}

interface Destination {
  server: ServerInfo;
  info: InfoSchema;
  dialect: Dialect;
}

async function inspect(conn: MysqlConnection, ep: Endpoint): Promise<Destination> {
  try {
    const server = await readServerInfo(conn);
    const info = await readInfoSchema(conn, ep.database, server);
    return { server, info, dialect: mysqlDialect({ keyCollation: server.keyCollation }) };
  } catch (err) {
    throw statementError(err, "reading the destination's tables");
  }
}

/** The table name of each binding, checked and cut to 64 characters; two bindings may not name one table. */
function tableNames(paths: string[][], dest: Destination): string[] {
  const owner = new Map<string, string>();
  return paths.map((path) => {
    if (path.length !== 1) throw new ConnectorError(`binding resource path ${JSON.stringify(path)} is not [table]`);
    const bad = mysqlIdentifierProblem(path[0]!);
    if (bad) throw new ConnectorError(`resource config field "table" ${JSON.stringify(path[0])}: ${bad}`);
    const name = foldName(dest.dialect, path[0]!);
    const key = dest.info.tableKey(name);
    const prior = owner.get(key);
    if (prior !== undefined) {
      throw new ConnectorError(
        `tables ${JSON.stringify(prior)} and ${JSON.stringify(name)} are the same table on this server ` +
          `(lower_case_table_names=${dest.server.lowerCaseTableNames}, names cut to 64 characters); bind them to different tables`,
      );
    }
    owner.set(key, name);
    return name;
  });
}

function lastBinding(bindings: MaterializationSpec_Binding[] | undefined, name: string, dest: Destination): MaterializationSpec_Binding | undefined {
  const key = dest.info.tableKey(name);
  return bindings?.find((b) => b.resourcePath.length === 1 && dest.info.tableKey(foldName(dest.dialect, b.resourcePath[0]!)) === key);
}

function resolveTable(
  b: { resourcePath: string[]; resourceConfig: ResourceConfig; collection: any; keys: string[]; values: string[]; document: string; deltaUpdates: boolean },
  name: string,
  dialect: Dialect,
): Table {
  return buildTable({ path: [name], collection: b.collection, keys: b.keys, values: b.values, document: b.document, deltaUpdates: b.deltaUpdates }, dialect);
}

const connector: MaterializeConnector<EndpointConfig, ResourceConfig> = {
  protocol: "materialize",
  name: "materialize-mysql",
  configSchema,
  resourceConfigSchema,
  documentationUrl: "https://github.com/tributary-dev/tributary/tree/main/connectors/materialize-mysql",

  /** The destination answers a query with this config's credentials. */
  async healthCheck(config) {
    await withConn(resolveEndpoint(config), (conn) => conn.query("SELECT 1"));
  },

  async validate(req) {
    const ep = resolveEndpoint(req.config);
    return withConn(ep, async (conn) => {
      const dest = await inspect(conn, ep);
      if (!dest.server.localInfile) {
        throw new ConnectorError(
          "the server does not accept LOAD DATA LOCAL INFILE (local_infile is OFF), which this connector stores rows with; " +
            "run SET GLOBAL local_infile = 1 (and set local_infile=1 in the server's configuration)",
        );
      }
      const names = tableNames(req.bindings.map((b) => resourcePath(b.resourceConfig)), dest);
      return req.bindings.map((b, i): ValidatedBinding => {
        const name = names[i]!;
        const delta = b.resourceConfig.delta_updates ?? false;
        const constraints = validateBinding(
          {
            collection: b.collection,
            deltaUpdates: delta,
            existing: dest.info.table(name),
            last: lastBinding(req.lastMaterialization?.bindings, name, dest),
            backfill: b.backfill,
            tableName: quoteMysqlIdentifier(name),
          },
          dest.dialect,
        );
        return { constraints, resourcePath: [name], deltaUpdates: delta };
      });
    });
  },

  async apply(req) {
    const ep = resolveEndpoint(req.config);
    return withConn(ep, async (conn) => {
      const dest = await inspect(conn, ep);
      const names = tableNames(req.bindings.map((b) => (b.resourcePath.length ? b.resourcePath : resourcePath(b.resourceConfig))), dest);
      const ddl = mysqlDdl({ keyCollation: dest.server.keyCollation });
      const statements: string[] = [];
      if (!dest.info.table(CHECKPOINTS_TABLE)) statements.push(mysqlFence.createTable(CHECKPOINTS_IDENT));
      for (const [i, b] of req.bindings.entries()) {
        const table = resolveTable(b, names[i]!, dest.dialect);
        const last = lastBinding(req.lastMaterialization?.bindings, names[i]!, dest);
        statements.push(...planTable({ table, existing: dest.info.table(table.path[0]!), last, backfill: b.backfill }, dest.dialect, ddl));
      }
      // MySQL commits each DDL statement on its own: a failure leaves the
      // statements before it applied, and Apply can simply run again.
      for (const sql of statements) {
        await conn.query(sql).catch((err) => {
          throw statementError(err, `applying ${JSON.stringify(sql.split("\n")[0])}`);
        });
      }
      return { actionDescription: statements.map((s) => s + ";").join("\n") };
    });
  },

  async open(req, ctx) {
    const ep = resolveEndpoint(req.config);
    const storeConn = await connect(ep, { localInfile: true });
    let loadConn: MysqlConnection | undefined;
    try {
      loadConn = await connect(ep, { localInfile: true });
      const dest = await inspect(storeConn, ep);
      const names = tableNames(req.bindings.map((b) => (b.resourcePath.length ? b.resourcePath : resourcePath(b.resourceConfig))), dest);
      const tables = req.bindings.map((b, i) => resolveTable(b, names[i]!, dest.dialect));
      const fence = await installFence(
        querier(storeConn),
        CHECKPOINTS_IDENT,
        { materialization: req.spec.name, keyBegin: req.range.keyBegin, keyEnd: req.range.keyEnd },
        sameCheckpoint,
        mysqlFence,
      ).catch((err) => {
        throw statementError(err, `installing the fence in ${CHECKPOINTS_IDENT} (has Apply run?)`);
      });
      const opts = { tables, storeConn, loadConn, fence, checkpointsIdent: CHECKPOINTS_IDENT, hardDelete: ep.hardDelete, log: ctx.log };
      await createStagingTables(opts);
      ctx.log.info("opened", { fence: fence.fence, keyBegin: fence.keyBegin, keyEnd: fence.keyEnd, recovered: fence.checkpoint !== undefined });
      return {
        transactor: new MysqlTransactor(opts),
        runtimeCheckpoint: fence.checkpoint ? fromBinary(CheckpointSchema, fence.checkpoint) : ZERO_CHECKPOINT,
        // A table this connector did not create may hold keys the runtime has
        // never stored: have it load every key so reductions see those rows.
        disableLoadOptimization: tables.some((t) => !t.deltaUpdates && dest.info.table(t.path[0]!)?.comment !== OWNED_TABLE_COMMENT),
      };
    } catch (err) {
      await Promise.allSettled([storeConn.end(), loadConn?.end()]);
      throw err;
    }
  },
};

/** Checkpoints are equivalent when they decode equal (map order in the bytes may differ). */
function sameCheckpoint(a: string, b: string): boolean {
  const decode = (s: string) => fromBinary(CheckpointSchema, Buffer.from(s, "base64"));
  return equals(CheckpointSchema, decode(a), decode(b));
}

export default connector;
