/**
 * Everything the database must provide before a capture can run, checked
 * together so a user sees every problem at once, each with the SQL that
 * fixes it. With `repair`, what the capture user may create itself (the
 * publication, a table's membership in it) is created instead of reported.
 */
import type pg from "pg";
import type { EndpointConfig, ResourceConfig } from "./config.js";
import { qualified, quoteIdent, quoteLiteral } from "./connection.js";
import { parseLsn, type Lsn } from "./lsn.js";

export interface Failure {
  message: string;
  fix: string;
}

export function formatFailures(failures: Failure[]): string {
  return (
    `${failures.length} prerequisite${failures.length === 1 ? "" : "s"} of the PostgreSQL capture ${failures.length === 1 ? "is" : "are"} not met:\n` +
    failures.map((f) => `- ${f.message}\n  fix: ${f.fix}`).join("\n")
  );
}

export async function checkPrerequisites(client: pg.Client, cfg: EndpointConfig, resources: ResourceConfig[], opts: { repair: boolean }): Promise<Failure[]> {
  const failures: Failure[] = [];
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

  let pubRow = (await client.query(`SELECT pubviaroot, puballtables FROM pg_catalog.pg_publication WHERE pubname = $1`, [cfg.publication])).rows[0];
  if (!pubRow && opts.repair) {
    try {
      await client.query(`CREATE PUBLICATION ${pub} WITH (publish_via_partition_root = true)`);
      pubRow = { pubviaroot: true, puballtables: false };
    } catch {
      // Reported below with the statement to run.
    }
  }
  if (!pubRow) {
    failures.push({ message: `publication ${cfg.publication} does not exist`, fix: `CREATE PUBLICATION ${pub} WITH (publish_via_partition_root = true);` });
  }

  for (const r of resources) {
    const name = qualified(r.namespace, r.stream);
    const t = (
      await client.query(
        `SELECT c.oid::int AS oid, c.relkind::text AS kind, c.relreplident::text AS replident,
                has_table_privilege(c.oid, 'SELECT') AS can_select,
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
    if (pubRow && !pubRow.puballtables) {
      const inPub = async () =>
        (await client.query(`SELECT 1 FROM pg_catalog.pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3`, [cfg.publication, r.namespace, r.stream]))
          .rowCount! > 0;
      let ok = await inPub();
      if (!ok && opts.repair) {
        try {
          await client.query(`ALTER PUBLICATION ${pub} ADD TABLE ${name}`);
          ok = await inPub();
        } catch {
          // Reported below.
        }
      }
      if (!ok) failures.push({ message: `${r.namespace}.${r.stream} is not in publication ${cfg.publication}`, fix: `ALTER PUBLICATION ${pub} ADD TABLE ${name};` });
    }
  }
  return failures;
}

/** Creates the slot if it is missing; returns its confirmed position. */
export async function ensureSlot(client: pg.Client, cfg: EndpointConfig): Promise<{ created: boolean; confirmedFlush: Lsn }> {
  const row = (await client.query(`SELECT confirmed_flush_lsn::text AS lsn FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`, [cfg.slot])).rows[0];
  if (row?.lsn) return { created: false, confirmedFlush: parseLsn(row.lsn) };
  const created = await client.query(`SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')`, [cfg.slot]);
  return { created: true, confirmedFlush: parseLsn(created.rows[0].lsn) };
}
