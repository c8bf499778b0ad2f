/**
 * Base64 decoding for protojson `bytes` fields, shared by the generic JSON
 * decoder and the byte-level fast path so both accept exactly the same
 * input: the standard or URL-safe alphabet (even mixed), padding optional.
 * A lone trailing character (length % 4 == 1) is not valid base64.
 */

const INVALID = 255;
const TABLE = new Uint8Array(128).fill(INVALID);
for (let i = 0; i < 64; i++) TABLE["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".charCodeAt(i)] = i;
TABLE[0x2d] = 62; // -
TABLE[0x5f] = 63; // _

/** Decodes the character codes `at(start) .. at(end - 1)`; undefined if invalid. */
function decode(at: (i: number) => number, start: number, end: number): Buffer | undefined {
  // Up to two '=' of padding, only at the end.
  if (end > start && at(end - 1) === 0x3d) end--;
  if (end > start && at(end - 1) === 0x3d) end--;
  const n = end - start;
  if (n % 4 === 1) return undefined;
  const out = Buffer.allocUnsafe(((n * 3) >> 2));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = start; i < end; i++) {
    const c = at(i);
    const v = c < 128 ? TABLE[c]! : INVALID;
    if (v === INVALID) return undefined;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return o === out.length ? out : out.subarray(0, o);
}

export function decodeBase64(text: string): Buffer | undefined {
  return decode((i) => text.charCodeAt(i), 0, text.length);
}

/** Decodes base64 characters stored as bytes `b[start..end)`. */
export function decodeBase64Bytes(b: Uint8Array, start: number, end: number): Buffer | undefined {
  return decode((i) => b[i]!, start, end);
}
