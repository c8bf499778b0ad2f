/**
 * materialize-postgres: materializes Flow collections into PostgreSQL tables,
 * exactly once. The destination is authoritative: each transaction's runtime
 * checkpoint commits in the same database transaction as its rows, under a
 * per-key-range fence that shuts out stale sessions.
 */
import { equals, fromBinary } from "@bufbuild/protobuf";
import type { MaterializationSpec_Binding } from "../../src/gen/flow/flow_pb.js";
import { CheckpointSchema } from "../../src/gen/consumer/protocol/protocol_pb.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { ZERO_CHECKPOINT, type MaterializeConnector, type ValidatedBinding } from "../../src/sdk/types.js";
import { planTable } from "../../src/sql/apply-plan.js";
import { CHECKPOINTS_TABLE, createCheckpointsTable, installFence } from "../../src/sql/fence.js";
import { foldIdentifier, quoteIdentifier, quotePath } from "../../src/sql/identifiers.js";
import { buildTable, type Table } from "../../src/sql/table.js";
import { validateBinding } from "../../src/sql/validate.js";
import { connect, statementError, type PgClient } from "./client.js";
import { configSchema, resolveEndpoint, resourceConfigSchema, resourcePath, type Endpoint, type EndpointConfig, type ResourceConfig } from "./config.js";
import { OWNED_TABLE_COMMENT, pgDdl, pgDialect } from "./dialect.js";
import { readInfoSchema } from "./introspect.js";
import { createStagingTables, keyColumnTypes, PgTransactor } from "./transactor.js";

const fold = (path: string[]) => path.map((p) => foldIdentifier(p, pgDialect.maxIdentifierBytes));
const samePath = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

function lastBinding(bindings: MaterializationSpec_Binding[] | undefined, path: string[]): MaterializationSpec_Binding | undefined {
  return bindings?.find((b) => samePath(fold(b.resourcePath), path));
}

/**
 * Refuses bindings whose tables become one after PostgreSQL cuts names to
 * 63 bytes: they would silently write each other's rows.
 */
function refuseFoldedCollisions(bindings: { collection: { name: string } }[], raw: string[][], folded: string[][]): void {
  const owner = new Map<string, number>();
  for (const [i, path] of folded.entries()) {
    const k = JSON.stringify(path);
    const j = owner.get(k);
    if (j === undefined) {
      owner.set(k, i);
      continue;
    }
    const name = (n: number) => `binding ${n} (collection ${bindings[n]!.collection.name}, table ${JSON.stringify(raw[n]!.join("."))})`;
    throw new ConnectorError(
      `${name(j)} and ${name(i)} both become table ${quotePath(path, pgDialect.reserved)}: PostgreSQL cuts names to ` +
        `${pgDialect.maxIdentifierBytes} bytes, so their rows would mix. Give one of them a shorter or otherwise distinct table name`,
    );
  }
}

function checkpointsIdent(ep: Endpoint): string {
  return quotePath([ep.schema, CHECKPOINTS_TABLE], pgDialect.reserved);
}

async function withClient<T>(ep: Endpoint, fn: (c: PgClient) => Promise<T>): Promise<T> {
  const client = await connect(ep);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const connector: MaterializeConnector<EndpointConfig, ResourceConfig> = {
  protocol: "materialize",
  name: "materialize-postgres",
  configSchema,
  resourceConfigSchema,
  documentationUrl: "https://github.com/tributary-dev/tributary/tree/main/connectors/materialize-postgres",

  /** The destination answers a query with this config's credentials. */
  async healthCheck(config) {
    await withClient(resolveEndpoint(config), (client) => client.query("SELECT 1"));
  },

  async validate(req) {
    const ep = resolveEndpoint(req.config);
    const raw = req.bindings.map((b) => resourcePath(b.resourceConfig, ep));
    const paths = raw.map(fold);
    refuseFoldedCollisions(req.bindings, raw, paths);
    return withClient(ep, async (client) => {
      const info = await readInfoSchema(client, paths.map((p) => p[0]!)).catch((err) => {
        throw statementError(err, "reading the destination's tables");
      });
      return req.bindings.map((b, i): ValidatedBinding => {
        const path = paths[i]!;
        const delta = b.resourceConfig.delta_updates ?? false;
        const constraints = validateBinding(
          {
            collection: b.collection,
            deltaUpdates: delta,
            existing: info.table(path),
            last: lastBinding(req.lastMaterialization?.bindings, path),
            backfill: b.backfill,
            tableName: quotePath(path, pgDialect.reserved),
          },
          pgDialect,
        );
        return { constraints, resourcePath: path, deltaUpdates: delta };
      });
    });
  },

  async apply(req) {
    const ep = resolveEndpoint(req.config);
    const tables = req.bindings.map((b) => resolveTable(b, ep));
    refuseFoldedCollisions(req.bindings, req.bindings.map((b) => b.resourcePath), tables.map((t) => t.path));
    return withClient(ep, async (client) => {
      const schemas = [ep.schema, ...tables.map((t) => t.path[0]!)];
      const info = await readInfoSchema(client, schemas).catch((err) => {
        throw statementError(err, "reading the destination's tables");
      });
      const statements: string[] = [];
      for (const s of new Set(schemas)) {
        if (!info.schemas.has(s)) statements.push(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(s, pgDialect.reserved)}`);
      }
      if (!info.table([ep.schema, CHECKPOINTS_TABLE])) statements.push(createCheckpointsTable(checkpointsIdent(ep)));
      for (const [i, table] of tables.entries()) {
        const b = req.bindings[i]!;
        statements.push(
          ...planTable(
            { table, existing: info.table(table.path), last: lastBinding(req.lastMaterialization?.bindings, table.path), backfill: b.backfill },
            pgDialect,
            pgDdl,
          ),
        );
      }
      if (statements.length === 0) return { actionDescription: "" };
      // DDL is transactional in PostgreSQL: all of it applies, or none.
      await client.query("BEGIN");
      let current = "";
      try {
        for (const sql of statements) {
          current = sql;
          await client.query(sql);
        }
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw statementError(err, `applying ${JSON.stringify(current.split("\n")[0])}`);
      }
      return { actionDescription: statements.map((s) => s + ";").join("\n") };
    });
  },

  async open(req, ctx) {
    const ep = resolveEndpoint(req.config);
    const tables = req.bindings.map((b) => resolveTable(b, ep));
    // One connection for loads and stores: they never overlap (a transaction's Loads are read and answered
    // before its Flush, its Stores after it, and the commit happens in StartCommit, before the next
    // Acknowledge), and one backend serves both. A second, load-only backend read every table page it
    // answered from for the first time (a page fault per shared-buffer page on first touch, 26-53 per 1,000
    // keys in the bench, where the store backend had touched them already).
    const conn = await connect(ep, "tributary materialize-postgres");
    try {
      const ident = checkpointsIdent(ep);
      const fence = await installFence(conn, ident, {
        materialization: req.spec.name,
        keyBegin: req.range.keyBegin,
        keyEnd: req.range.keyEnd,
      }, sameCheckpoint).catch((err) => {
        throw statementError(err, `installing the fence in ${ident} (has Apply run?)`);
      });
      const directInserts = await ownedTables(conn, tables);
      const opts = { tables, conn, fence, checkpointsIdent: ident, hardDelete: ep.hardDelete, directInserts, log: ctx.log };
      await createStagingTables(opts);
      const keyTypes = await keyColumnTypes(conn, tables);
      ctx.log.info("opened", { fence: fence.fence, keyBegin: fence.keyBegin, keyEnd: fence.keyEnd, recovered: fence.checkpoint !== undefined });
      return {
        transactor: new PgTransactor({ ...opts, keyTypes }),
        runtimeCheckpoint: fence.checkpoint ? fromBinary(CheckpointSchema, fence.checkpoint) : ZERO_CHECKPOINT,
        // A table this connector did not create may hold keys the runtime has
        // never stored: have it load every key so reductions see those rows.
        disableLoadOptimization: tables.some((t, i) => !t.deltaUpdates && !directInserts[i]),
      };
    } catch (err) {
      await conn.end().catch(() => undefined);
      throw err;
    }
  },
};

/** Which tables carry this connector's ownership comment. */
async function ownedTables(client: PgClient, tables: Table[]): Promise<boolean[]> {
  const res = await client
    .query<{ c: string | null }>("SELECT obj_description(to_regclass(t), 'pg_class') AS c FROM unnest($1::text[]) WITH ORDINALITY AS u(t, i) ORDER BY i", [
      tables.map((t) => t.ident),
    ])
    .catch((err) => {
      throw statementError(err, "reading table comments");
    });
  return res.rows.map((r) => r.c === OWNED_TABLE_COMMENT);
}

/** Checkpoints are equivalent when they decode equal (map order in the bytes may differ). */
function sameCheckpoint(a: string, b: string): boolean {
  const decode = (s: string) => fromBinary(CheckpointSchema, Buffer.from(s, "base64"));
  return equals(CheckpointSchema, decode(a), decode(b));
}

function resolveTable(
  b: { resourceConfig: ResourceConfig; resourcePath: string[]; collection: any; keys: string[]; values: string[]; document: string; deltaUpdates: boolean },
  ep: Endpoint,
): Table {
  const path = b.resourcePath.length === 2 ? b.resourcePath : resourcePath(b.resourceConfig, ep);
  if (path.length !== 2) throw new ConnectorError(`binding resource path ${JSON.stringify(path)} is not [schema, table]`);
  return buildTable(
    { path, collection: b.collection, keys: b.keys, values: b.values, document: b.document, deltaUpdates: b.deltaUpdates },
    pgDialect,
  );
}

export default connector;
