/**
 * Log sequence numbers: 64-bit WAL positions, written by PostgreSQL as two
 * hex halves ("16/B374D848"). Kept as bigint so no position is ever rounded.
 */
export type Lsn = bigint;

export function parseLsn(text: string): Lsn {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!m) throw new Error(`invalid LSN ${JSON.stringify(text)}: expected two hex numbers like "16/B374D848"`);
  return (BigInt("0x" + m[1]) << 32n) | BigInt("0x" + m[2]);
}

export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}
