/**
 * Which PostgreSQL failures are the server's passing state rather than a
 * mistake in the request, by SQLSTATE (see the PostgreSQL manual's
 * "PostgreSQL Error Codes" appendix):
 * - class 53, insufficient resources (53300 too many connections, 53100 disk
 *   full, 53200 out of memory): "exhausted";
 * - class 08, connection exceptions, and 57P01-57P03 (admin or crash
 *   shutdown, cannot connect now: starting up, shutting down, recovering):
 *   "unavailable";
 * - socket errors that say the server is out of reach: "unavailable".
 */
import { networkCondition, type ErrorCondition } from "../sdk/errors.js";

export function pgCondition(err: unknown): ErrorCondition | undefined {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) {
    if (code.startsWith("53")) return "exhausted";
    if (code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03") return "unavailable";
    return undefined;
  }
  return networkCondition(err);
}
