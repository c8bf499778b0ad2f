/**
 * FoundationDB tuple encoding of key and value fields: Load.key_packed,
 * Store.key_packed and Store.values_packed are in this form, and packed
 * keys order the same way the keys themselves do.
 */

function pushEscaped(out: number[], bytes: Uint8Array) {
  for (const b of bytes) {
    out.push(b);
    if (b === 0x00) out.push(0xff);
  }
  out.push(0x00);
}

function packInt(out: number[], n: bigint) {
  if (n === 0n) {
    out.push(0x14);
    return;
  }
  const neg = n < 0n;
  let mag = neg ? -n : n;
  const bytes: number[] = [];
  while (mag > 0n) {
    bytes.unshift(Number(mag & 0xffn));
    mag >>= 8n;
  }
  if (bytes.length > 8) {
    // Arbitrary-precision integers: a length byte follows the type code.
    out.push(neg ? 0x0b : 0x1d, neg ? bytes.length ^ 0xff : bytes.length);
    for (const b of bytes) out.push(neg ? b ^ 0xff : b);
    return;
  }
  out.push(neg ? 0x14 - bytes.length : 0x14 + bytes.length);
  for (const b of bytes) out.push(neg ? b ^ 0xff : b);
}

function packDouble(out: number[], d: number) {
  const buf = Buffer.alloc(8);
  buf.writeDoubleBE(d);
  if (buf[0]! & 0x80) for (let i = 0; i < 8; i++) buf[i] = buf[i]! ^ 0xff;
  else buf[0] = buf[0]! ^ 0x80;
  out.push(0x21, ...buf);
}

function packOne(out: number[], v: unknown) {
  if (v === null || v === undefined) out.push(0x00);
  else if (v === false) out.push(0x26);
  else if (v === true) out.push(0x27);
  else if (typeof v === "number") {
    if (Number.isSafeInteger(v)) packInt(out, BigInt(v));
    else packDouble(out, v);
  } else if (typeof v === "bigint") packInt(out, v);
  else if (typeof v === "string") {
    out.push(0x02);
    pushEscaped(out, Buffer.from(v, "utf8"));
  } else {
    // Objects and arrays are packed as the bytes of their JSON text.
    out.push(0x01);
    pushEscaped(out, Buffer.from(JSON.stringify(v), "utf8"));
  }
}

export function packTuple(values: unknown[]): Uint8Array {
  const out: number[] = [];
  for (const v of values) packOne(out, v);
  return Uint8Array.from(out);
}
