/**
 * Everything the database must provide before a capture can run, checked
 * together so a user sees every problem at once, each with the SQL that
 * fixes it. Checking only reads: what the capture may create itself (the
 * publication, a table's membership in it, when the config allows it and the
 * user has the rights) comes back as changes, which Apply (or Open) makes.
 */
import type pg from "pg";
import type { EndpointConfig, ResourceConfig } from "./config.js";
import { qualified, quoteIdent, quoteLiteral } from "./connection.js";
import { parseLsn, type Lsn } from "./lsn.js";
import { ConnectorError } from "../../src/sdk/errors.js";

export interface Failure {
  message: string;
  fix: string;
}

/** A change the capture may make itself, and will at Apply. */
export interface Change {
  description: string;
  sql: string;
}

export interface Prerequisites {
  failures: Failure[];
  changes: Change[];
}

export function formatFailures(failures: Failure[]): string {
  return (
    `${failures.length} prerequisite${failures.length === 1 ? "" : "s"} of the PostgreSQL capture ${failures.length === 1 ? "is" : "are"} not met:\n` +
    failures.map((f) => `- ${f.message}\n  fix: ${f.fix}`).join("\n")
  );
}

/** Checks every prerequisite without changing anything. */
export async function checkPrerequisites(client: pg.Client, cfg: EndpointConfig, resources: ResourceConfig[]): Promise<Prerequisites> {
  const failures: Failure[] = [];
  const changes: Change[] = [];
  const user = quoteIdent(cfg.user);
  const pub = quoteIdent(cfg.publication);

  const version = Number((await client.query("SHOW server_version_num")).rows[0].server_version_num);
  if (version < 140000) {
    failures.push({ message: `server version ${Math.floor(version / 10000)} is too old: logical messages in pgoutput need PostgreSQL 14 or later`, fix: "upgrade the server to PostgreSQL 14 or later" });
  }
  const walLevel = (await client.query("SHOW wal_level")).rows[0].wal_level;
  if (walLevel !== "logical") {
    failures.push({ message: `wal_level is ${walLevel}, but logical replication needs wal_level=logical`, fix: "ALTER SYSTEM SET wal_level = logical; -- then restart the server" });
  }
  const role = (
    await client.query(
      `SELECT r.rolreplication OR r.rolsuper OR EXISTS (
                SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname = 'rds_replication' AND pg_has_role(r.oid, g.oid, 'MEMBER')) AS ok
         FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`,
    )
  ).rows[0];
  if (!role?.ok) failures.push({ message: `user ${cfg.user} lacks the REPLICATION attribute`, fix: `ALTER ROLE ${user} WITH REPLICATION;` });

  const emit = (await client.query(`SELECT has_function_privilege('pg_logical_emit_message(boolean,text,text)', 'EXECUTE') AS ok`)).rows[0];
  if (!emit.ok) {
    failures.push({
      message: `user ${cfg.user} may not call pg_logical_emit_message, which the capture uses for heartbeats and backfill fences`,
      fix: `GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) TO ${user};`,
    });
  }

  // The slot, if it exists, must be a pgoutput slot of this database.
  const slot = (await client.query(`SELECT slot_type, plugin, database FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`, [cfg.slot])).rows[0];
  if (slot) {
    if (slot.slot_type !== "logical" || slot.plugin !== "pgoutput") {
      failures.push({ message: `replication slot ${cfg.slot} is a ${slot.slot_type} slot with plugin ${slot.plugin ?? "none"}, not a pgoutput logical slot`, fix: `SELECT pg_drop_replication_slot(${quoteLiteral(cfg.slot)}); -- the capture re-creates it` });
    } else if (slot.database !== cfg.database) {
      failures.push({ message: `replication slot ${cfg.slot} belongs to database ${slot.database}, not ${cfg.database}`, fix: `set a different slot name in the endpoint config, or drop the slot in ${slot.database}` });
    }
  }

  // The publication: missing, it is a change when the config allows it and the
  // user may create it (it then owns it), else a failure.
  const pubRow = (
    await client.query(
      `SELECT pubviaroot, puballtables, pg_has_role(pubowner, 'USAGE') AS owned FROM pg_catalog.pg_publication WHERE pubname = $1`,
      [cfg.publication],
    )
  ).rows[0] as { pubviaroot: boolean; puballtables: boolean; owned: boolean } | undefined;
  const createPub = `CREATE PUBLICATION ${pub} WITH (publish_via_partition_root = true);`;
  let pubWillExist = pubRow !== undefined;
  if (!pubRow) {
    const mayCreate = (await client.query(`SELECT has_database_privilege(current_database(), 'CREATE') AS ok`)).rows[0].ok as boolean;
    if (cfg.create_publication && mayCreate) {
      changes.push({ description: `create publication ${cfg.publication}`, sql: createPub });
      pubWillExist = true;
    } else {
      const why = cfg.create_publication ? ` (and user ${cfg.user} may not create it)` : "";
      failures.push({ message: `publication ${cfg.publication} does not exist${why}`, fix: createPub });
    }
  }
  // Whether the capture may add a table owned by `tableOwned` to the publication.
  const mayAdd = (tableOwned: boolean) => cfg.create_publication && tableOwned && (pubRow ? pubRow.owned : true);

  for (const r of resources) {
    const name = qualified(r.namespace, r.stream);
    const t = (
      await client.query(
        `SELECT c.oid::int AS oid, c.relkind::text AS kind, c.relreplident::text AS replident,
                has_table_privilege(c.oid, 'SELECT') AS can_select, pg_has_role(c.relowner, 'USAGE') AS owned,
                EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relname = $2`,
        [r.namespace, r.stream],
      )
    ).rows[0];
    if (!t) {
      failures.push({ message: `table ${r.namespace}.${r.stream} does not exist`, fix: `create the table, or remove its binding` });
      continue;
    }
    if (t.kind !== "r" && t.kind !== "p") {
      failures.push({ message: `${r.namespace}.${r.stream} is not a table (views and other relations have no change stream)`, fix: "remove its binding" });
      continue;
    }
    if (!t.can_select) failures.push({ message: `user ${cfg.user} cannot read ${r.namespace}.${r.stream}`, fix: `GRANT SELECT ON ${name} TO ${user};` });
    if (t.replident === "n" || (t.replident === "d" && !t.has_pk)) {
      failures.push({
        message: `${r.namespace}.${r.stream} has no replica identity, so its updates and deletes cannot be published (and fail at the source)`,
        fix: `ALTER TABLE ${name} REPLICA IDENTITY FULL;`,
      });
    }
    if (t.kind === "p" && pubRow && !pubRow.pubviaroot) {
      failures.push({ message: `${r.namespace}.${r.stream} is partitioned, but publication ${cfg.publication} does not publish changes through the root`, fix: `ALTER PUBLICATION ${pub} SET (publish_via_partition_root = true);` });
    }
    if (pubWillExist && !pubRow?.puballtables) {
      const inPub =
        pubRow !== undefined &&
        (await client.query(`SELECT 1 FROM pg_catalog.pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3`, [cfg.publication, r.namespace, r.stream]))
          .rowCount! > 0;
      const addTable = `ALTER PUBLICATION ${pub} ADD TABLE ${name};`;
      if (inPub) {
        // Nothing to do.
      } else if (mayAdd(t.owned)) {
        changes.push({ description: `add ${r.namespace}.${r.stream} to publication ${cfg.publication}`, sql: addTable });
      } else {
        failures.push({ message: `${r.namespace}.${r.stream} is not in publication ${cfg.publication}`, fix: addTable });
      }
    }
  }
  return { failures, changes };
}

/** Makes the changes a check found; returns what was done, one line each. */
export async function makeChanges(client: pg.Client, changes: Change[]): Promise<string[]> {
  const done: string[] = [];
  for (const c of changes) {
    try {
      await client.query(c.sql);
    } catch (err) {
      throw new ConnectorError(`could not ${c.description}: ${(err as Error).message}; run as a privileged user: ${c.sql}`);
    }
    done.push(`${c.description}: ${c.sql}`);
  }
  return done;
}

/**
 * Open's check: fails on any unmet prerequisite, and makes the changes Apply
 * would have made (a session opened without an Apply still finds them made).
 */
export async function ensurePrerequisites(client: pg.Client, cfg: EndpointConfig, resources: ResourceConfig[]): Promise<string[]> {
  const { failures, changes } = await checkPrerequisites(client, cfg, resources);
  if (failures.length > 0) throw new ConnectorError(formatFailures(failures));
  return makeChanges(client, changes);
}

/** Creates the slot if it is missing; returns its confirmed position. */
export async function ensureSlot(client: pg.Client, cfg: EndpointConfig): Promise<{ created: boolean; confirmedFlush: Lsn }> {
  const row = (await client.query(`SELECT confirmed_flush_lsn::text AS lsn FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`, [cfg.slot])).rows[0];
  if (row?.lsn) return { created: false, confirmedFlush: parseLsn(row.lsn) };
  const created = await client.query(`SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')`, [cfg.slot]);
  return { created: true, confirmedFlush: parseLsn(created.rows[0].lsn) };
}
