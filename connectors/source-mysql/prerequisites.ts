/**
 * Everything the server must provide before a capture can run, checked
 * together so a user sees every problem at once, each with the SQL that
 * fixes it. Nothing here changes the server.
 */
import type mysql from "mysql2/promise";
import { ConnectorError } from "../../src/sdk/errors.js";
import type { EndpointConfig, ResourceConfig } from "./config.js";
import { binlogEnd, qualified } from "./connection.js";
import { parseZone, type Zone } from "./timezone.js";

export interface Failure {
  message: string;
  fix: string;
}

/** Binlogs must outlive the longest pause of a capture; a week, as Flow's own MySQL connector asks. */
export const MIN_RETENTION_SECONDS = 7 * 24 * 3600;

export function formatFailures(failures: Failure[]): string {
  return (
    `${failures.length} prerequisite${failures.length === 1 ? "" : "s"} of the MySQL capture ${failures.length === 1 ? "is" : "are"} not met:\n` +
    failures.map((f) => `- ${f.message}\n  fix: ${f.fix}`).join("\n")
  );
}

async function variables(conn: mysql.Connection, names: string[]): Promise<Map<string, string>> {
  const [rows] = (await conn.query(`SHOW GLOBAL VARIABLES WHERE Variable_name IN (${names.map(() => "?").join(", ")})`, names)) as any;
  return new Map((rows as any[]).map((r) => [String(r.Variable_name).toLowerCase(), String(r.Value)]));
}

export async function checkPrerequisites(conn: mysql.Connection, cfg: EndpointConfig, resources: ResourceConfig[], serverId: number): Promise<Failure[]> {
  const failures: Failure[] = [];
  const v = await variables(conn, [
    "log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata", "binlog_expire_logs_seconds", "expire_logs_days", "server_id", "version",
  ]);
  const [[who]] = (await conn.query("SELECT CURRENT_USER() AS u")) as any;
  const account = String(who.u).replace(/^(.*)@(.*)$/, (_, u, h) => `'${u}'@'${h}'`);

  if (v.get("log_bin") !== "ON") {
    failures.push({ message: "binary logging is off (log_bin)", fix: "start the server with --log-bin (and --server-id), e.g. log_bin = mysql-bin in my.cnf, then restart it" });
  }
  const format = v.get("binlog_format");
  if (format !== "ROW") {
    failures.push({ message: `binlog_format is ${format}, but the capture reads row images: it needs ROW`, fix: "SET GLOBAL binlog_format = 'ROW'; -- and binlog_format = ROW in my.cnf; sessions opened before keep the old format" });
  }
  const image = v.get("binlog_row_image");
  if (image !== undefined && image !== "FULL") {
    failures.push({ message: `binlog_row_image is ${image}, but updates and deletes must carry whole rows: it needs FULL`, fix: "SET GLOBAL binlog_row_image = 'FULL'; -- and binlog_row_image = FULL in my.cnf" });
  }
  // MariaDB 10.5+ and MySQL 8.0+ can put column names in TABLE_MAP events, which keeps row decoding in step with ALTER TABLE.
  const metadata = v.get("binlog_row_metadata");
  if (metadata !== undefined && metadata !== "FULL") {
    failures.push({
      message: `binlog_row_metadata is ${metadata}: without FULL, rows are decoded with column names read from the catalog later, which ALTER TABLE can put out of step`,
      fix: "SET GLOBAL binlog_row_metadata = 'FULL'; -- and binlog_row_metadata = FULL in my.cnf",
    });
  }
  const seconds = Number(v.get("binlog_expire_logs_seconds") ?? 0);
  const days = Number(v.get("expire_logs_days") ?? 0);
  const retention = seconds > 0 ? seconds : days > 0 ? days * 86400 : 0; // 0: kept until purged by hand
  if (retention > 0 && retention < MIN_RETENTION_SECONDS) {
    failures.push({
      message: `binary logs expire after ${Math.round(retention / 3600)} hours; a capture paused longer than that must backfill again`,
      fix: `SET GLOBAL binlog_expire_logs_seconds = ${MIN_RETENTION_SECONDS}; -- at least 7 days, also in my.cnf`,
    });
  }
  if (Number(v.get("server_id")) === serverId) {
    failures.push({ message: `the capture's replica server id ${serverId} is the server's own server_id`, fix: "set a different /server_id in the endpoint config" });
  }
  if (Number(v.get("server_id")) === 0) {
    failures.push({ message: "the server's server_id is 0, which refuses replica connections", fix: "SET GLOBAL server_id = 1; -- any value no other server of the topology uses, also in my.cnf" });
  }

  // Grants: REPLICATION SLAVE to read the binlog, REPLICATION CLIENT (MariaDB: BINLOG MONITOR) to read its position.
  const [grantRows] = (await conn.query("SHOW GRANTS")) as any;
  const grants = (grantRows as any[]).map((r) => String(Object.values(r)[0])).join("\n").toUpperCase();
  const global = grants.split("\n").filter((g) => / ON \*\.\* /.test(g)).join("\n");
  const has = (p: string) => global.includes("ALL PRIVILEGES") || global.includes(p);
  if (!has("REPLICATION SLAVE") && !has("REPLICATION REPLICA")) {
    failures.push({ message: `user ${account} lacks REPLICATION SLAVE, which reading the binlog needs`, fix: `GRANT REPLICATION SLAVE ON *.* TO ${account};` });
  }
  try {
    await binlogEnd(conn);
  } catch (err) {
    if (err instanceof ConnectorError) {
      // log_bin off: reported above.
    } else if ((err as { errno?: number }).errno === 1227) {
      failures.push({ message: `user ${account} may not read the binlog position (SHOW MASTER STATUS)`, fix: `GRANT REPLICATION CLIENT ON *.* TO ${account};` });
    } else throw err;
  }

  for (const r of resources) {
    const name = qualified(r.namespace, r.stream);
    try {
      await conn.query(`SELECT 1 FROM ${name} LIMIT 0`);
    } catch (err) {
      const errno = (err as { errno?: number }).errno;
      if (errno === 1146 || errno === 1049) failures.push({ message: `table ${r.namespace}.${r.stream} does not exist`, fix: "create the table, or remove its binding" });
      else if (errno === 1142 || errno === 1044) failures.push({ message: `user ${account} cannot read ${r.namespace}.${r.stream}`, fix: `GRANT SELECT ON ${name} TO ${account};` });
      else throw err;
    }
  }
  try {
    await resolveZone(conn, cfg);
  } catch (err) {
    if (!(err instanceof ConnectorError)) throw err;
    failures.push({ message: err.message, fix: 'set /timezone in the endpoint config to the zone DATETIME values are written in, e.g. "UTC" or "America/New_York"' });
  }
  return failures;
}

/** The zone DATETIME values are read in: the configured one, else the server's. */
export async function resolveZone(conn: mysql.Connection, cfg: EndpointConfig): Promise<Zone> {
  if (cfg.timezone) return parseZone(cfg.timezone)!;
  const [[row]] = (await conn.query("SELECT @@GLOBAL.time_zone AS tz, @@system_time_zone AS sys")) as any;
  const name = row.tz === "SYSTEM" ? String(row.sys) : String(row.tz);
  const zone = parseZone(name);
  if (!zone) throw new ConnectorError(`the server's time zone ${JSON.stringify(name)} is not one the capture can resolve (it needs an IANA name or an offset)`);
  return zone;
}
