/**
 * HTTP's Retry-After header (RFC 9110 §10.2.3): delta-seconds or an HTTP
 * date, read once for every connector that talks HTTP.
 */

/** The wait a Retry-After value asks for, in ms, or undefined when it is absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
