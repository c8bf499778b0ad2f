/**
 * What Validate learns from the server's INFO before promising anything:
 * settings under which the delivery mode the user chose cannot hold.
 *
 * - Redis Cluster: refused (the scripts and pipelines address keys of many
 *   slots from one connection).
 * - Eviction (a `maxmemory` limit with any policy but `noeviction`): under
 *   exactly_once, an evicted stage would later read as "already applied" and
 *   its transaction would be lost without a word, so Validate refuses it;
 *   under at_least_once evicted keys are the user's cache policy, so it warns.
 * - No AOF persistence: a restart may drop writes Redis acknowledged, which
 *   no delivery mode can recover; a warning, since RDB-only and replicated
 *   set-ups are deliberate choices.
 * A server that hides INFO (ACLs, renamed commands) cannot be checked; that
 * is logged and Validate goes on.
 */
import type { Redis } from "ioredis";
import type { Logger } from "../../src/log.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import type { Endpoint } from "./config.js";
import { where } from "./client.js";

/** INFO's `key:value` lines, every section. */
export function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith("#")) continue;
    const i = line.indexOf(":");
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

/** Problems found in INFO: `refuse` ends Validate, `warn` is logged. */
export function judgeServer(info: Map<string, string>, delivery: Endpoint["delivery"]): { refuse: string[]; warn: string[] } {
  const refuse: string[] = [];
  const warn: string[] = [];
  if (info.get("cluster_enabled") === "1" || info.get("redis_mode") === "cluster") {
    refuse.push("the server runs Redis Cluster, which this connector does not support: point it at a standalone server or a primary");
  }
  const maxmemory = Number(info.get("maxmemory") ?? "0");
  const policy = info.get("maxmemory_policy") ?? "noeviction";
  if (maxmemory > 0 && policy !== "noeviction") {
    const what = `maxmemory is ${maxmemory} bytes with maxmemory-policy ${policy}, so Redis may evict keys`;
    if (delivery === "exactly_once") {
      refuse.push(
        `${what}, including staged transactions not yet applied, which would be lost without notice; ` +
          `run CONFIG SET maxmemory-policy noeviction (and persist it in redis.conf), or choose delivery at_least_once if eviction is intended`,
      );
    } else {
      warn.push(`${what}: materialized keys can disappear from the destination`);
    }
  }
  if (info.get("aof_enabled") === "0") {
    warn.push("AOF persistence is off (appendonly no): writes Redis acknowledged can be lost if it restarts, and this connector cannot tell");
  }
  return { refuse, warn };
}

export async function checkServer(redis: Redis, ep: Endpoint, log: Logger): Promise<void> {
  let text: string;
  try {
    text = await redis.info();
  } catch (err) {
    log.warn("cannot read the server's INFO, so its eviction, persistence and cluster settings are unchecked", { error: (err as Error).message });
    return;
  }
  const { refuse, warn } = judgeServer(parseInfo(text), ep.delivery);
  for (const w of warn) log.warn(w, { address: where(ep) });
  if (refuse.length) throw new ConnectorError(`Redis at ${where(ep)}: ${refuse.join("; ")}`);
}
