/**
 * A binding's `stateKey`: the key of its entry in connector state and in the
 * runtime checkpoint. Same rule as Flow's control plane (see SPECS.md).
 */

const KEEP = /^[\p{L}\p{N}\-_+.=]$/u;

export function encodeStateKey(resourcePath: string[], backfill: number): string {
  let out = "";
  for (const ch of resourcePath.join("/")) {
    if (KEEP.test(ch)) {
      out += ch;
    } else {
      for (const byte of Buffer.from(ch, "utf8")) out += "%" + byte.toString(16).toUpperCase().padStart(2, "0");
    }
  }
  if (backfill !== 0) out += `.v${backfill}`;
  return out;
}
