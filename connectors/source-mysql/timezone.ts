/**
 * DATETIME values are wall-clock times without a zone: they are read in a
 * zone (the configured one, else the server's time_zone) and written as
 * UTC. A zone is a fixed offset or an IANA name, resolved with Intl.
 */
export type Zone = { offsetMinutes: number } | { iana: string };

/** Parses "+HH:MM", "UTC"/"Z", or an IANA name; null when it is none of these. */
export function parseZone(name: string): Zone | null {
  const n = name.trim();
  if (/^(utc|z|gmt)$/i.test(n)) return { offsetMinutes: 0 };
  const m = /^([+-])(\d{1,2}):(\d{2})$/.exec(n);
  if (m) return { offsetMinutes: (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) };
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: n });
    return { iana: n };
  } catch {
    return null;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The zone's offset from UTC at instant `ms`, in minutes. */
function offsetAt(zone: Zone, ms: number): number {
  if ("offsetMinutes" in zone) return zone.offsetMinutes;
  let f = formatters.get(zone.iana);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone.iana, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
    formatters.set(zone.iana, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(new Date(ms))) if (part.type !== "literal") p[part.type] = Number(part.value);
  const u = new Date(0);
  u.setUTCFullYear(p.year, p.month - 1, p.day);
  u.setUTCHours(p.hour, p.minute, p.second, 0);
  const asUtc = u.getTime();
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60_000);
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/**
 * Whether every time of one wall-clock hour in `zone` converts to one UTC hour (same date) with its own minute
 * digits: a fixed offset of whole hours (UTC among them). Then one converted minute gives the UTC head of every
 * other minute of its hour; a zone with rules may change its offset within an hour.
 */
export function hourCarries(zone: Zone): boolean {
  return "offsetMinutes" in zone && zone.offsetMinutes % 60 === 0;
}

/** Converted "YYYY-MM-DDTHH:MM" per zone and wall-clock minute: offsets are whole minutes, so seconds carry over. */
const minutes = new WeakMap<Zone, Map<string, string>>();

/** "YYYY-MM-DD HH:MM:SS[.ffffff]" in `zone` as RFC 3339 UTC, keeping the fraction's digits. */
export function localToUtc(s: string, zone: Zone): string {
  // Rows cluster in time: most values share their minute with one converted before.
  if (s.length >= 19 && s.charCodeAt(16) === 58 /* : */) {
    let cache = minutes.get(zone);
    if (!cache) minutes.set(zone, (cache = new Map()));
    const key = s.slice(0, 16);
    let head = cache.get(key);
    if (head === undefined) {
      head = convert(`${key}:00`, zone).slice(0, 16);
      if (cache.size >= 4096) cache.clear();
      cache.set(key, head);
    }
    const rest = s.slice(16);
    if (/^:\d{2}(\.\d+)?$/.test(rest)) return `${head}${rest}Z`;
  }
  return convert(s, zone);
}

function convert(s: string, zone: Zone): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d+)?$/.exec(s);
  if (!m) throw new Error("DATETIME value is not in YYYY-MM-DD HH:MM:SS form");
  // setUTCFullYear, unlike Date.UTC, keeps years 0–99 as they are.
  const w = new Date(0);
  w.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  w.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]), 0);
  const wall = w.getTime();
  const frac = m[7] ?? "";
  // A fixed offset has no skipped or repeated times (and is the common case: the server's zone is an offset or UTC).
  if ("offsetMinutes" in zone) return rfc3339(wall - zone.offsetMinutes * 60_000, frac);
  // As Temporal's "compatible" choice: a repeated hour reads as its first
  // occurrence, a skipped one with the offset before the change (so later).
  const before = offsetAt(zone, wall - 86_400_000);
  const after = offsetAt(zone, wall + 86_400_000);
  const valid = [before, after].map((o) => wall - o * 60_000).filter((t) => offsetAt(zone, t) * 60_000 === wall - t);
  const t = valid.length > 0 ? Math.min(...valid) : wall - before * 60_000;
  return rfc3339(t, frac);
}

function rfc3339(t: number, frac: string): string {
  const d = new Date(t);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${frac}Z`;
}
