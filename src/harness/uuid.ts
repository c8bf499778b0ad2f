/**
 * Flow document UUIDs (RFC 4122 v1: a 60-bit clock of 100ns ticks since
 * 1582-10-15). The harness gives fixture documents that lack `_meta/uuid` a
 * deterministic one, so `flow_published_at` is stable across replays.
 */
const GREGORIAN_OFFSET_MS = 12219292800000n;

/** A v1 UUID for `epochMs` plus `ticks` (100 ns each). */
export function uuidV1(epochMs: number, ticks: number, producer = "0102030405a1"): string {
  const t = (BigInt(Math.floor(epochMs)) + GREGORIAN_OFFSET_MS) * 10000n + BigInt(Math.floor(ticks));
  const low = (t & 0xffffffffn).toString(16).padStart(8, "0");
  const mid = ((t >> 32n) & 0xffffn).toString(16).padStart(4, "0");
  const hi = (((t >> 48n) & 0x0fffn) | 0x1000n).toString(16).padStart(4, "0");
  // Clock sequence: variant bits "10", then Flow's flags (0 = a plain, non-ACK document).
  return `${low}-${mid}-${hi}-8000-${producer}`;
}

/** The publication time carried by a v1 UUID, or undefined for anything else. */
export function uuidTime(uuid: unknown): Date | undefined {
  if (typeof uuid !== "string") return undefined;
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-1([0-9a-f]{3})-[0-9a-f]{4}-[0-9a-f]{12}$/i.exec(uuid);
  if (!m) return undefined;
  const t = (BigInt("0x" + m[3]) << 48n) | (BigInt("0x" + m[2]) << 32n) | BigInt("0x" + m[1]);
  return new Date(Number(t / 10000n - GREGORIAN_OFFSET_MS));
}
