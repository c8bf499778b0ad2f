/**
 * MariaDB GTID positions (`domain-server-seq` per replication domain, as in
 * `@@gtid_binlog_pos`): the form the capture records and resumes from.
 * MySQL's GTID sets (`uuid:1-5`) are not recorded: resuming by them is
 * untested here, so MySQL captures resume by file and offset.
 */
import type mysql from "mysql2/promise";
import { binlogEnd } from "./connection.js";
import type { Position } from "./binlog.js";

const GTID = /^\d+-\d+-\d+$/;

/** Whether `g` is a non-empty MariaDB GTID position. */
export function isMariaDbGtid(g: unknown): g is string {
  return typeof g === "string" && g !== "" && g.split(",").every((p) => GTID.test(p));
}

/** `position` with the domain of `gtid` moved to it (a position holds one GTID per domain), domains in numeric order. */
export function mergeGtid(position: string | undefined, gtid: string): string {
  const domain = gtid.slice(0, gtid.indexOf("-") + 1);
  const parts = (position ?? "").split(",").filter((p) => p !== "" && !p.startsWith(domain));
  parts.push(gtid);
  return parts.sort((a, b) => Number(a.slice(0, a.indexOf("-"))) - Number(b.slice(0, b.indexOf("-")))).join(",");
}

/**
 * The server's binlog end and the GTID position at it, read so that both describe the same point. `gtid` is
 * "" on a MariaDB server that has logged no GTID yet, and undefined where the server has no GTID position
 * (MySQL) or it kept moving while read.
 */
export async function startPosition(conn: mysql.Connection): Promise<{ position: Position; gtid: string | undefined }> {
  for (let attempt = 0; ; attempt++) {
    const before = await serverGtid(conn);
    const position = await binlogEnd(conn);
    const after = await serverGtid(conn);
    // A transaction committed between the reads: read again (a busy server may need a few tries).
    if (before === after || attempt >= 20) return { position, gtid: before === after && after !== null ? after : undefined };
  }
}

/** `@@gtid_binlog_pos`, or null where the server has none (MySQL). */
async function serverGtid(conn: mysql.Connection): Promise<string | null> {
  const [rows] = (await conn.query("SELECT @@GLOBAL.gtid_binlog_pos AS g").catch(() => [[]])) as any;
  const g = rows?.[0]?.g;
  return g === "" || isMariaDbGtid(g) ? g : null;
}
