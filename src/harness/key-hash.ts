/**
 * The 32-bit hash that places a document on a shard's key range, the same
 * number Flow's runtime computes: the high 32 bits of HighwayHash-64 of the
 * packed key, keyed with Flow's fixed public 32-byte key. A range split here
 * therefore routes every key to the shard Flow would pick.
 *
 * HighwayHash works on 64-bit lanes; JavaScript numbers hold 53 bits, so
 * every lane is kept as two unsigned 32-bit halves (low word first) in one
 * Uint32Array. BigInt would be simpler and some thirty times slower, and the
 * harness hashes every document it routes.
 */

/** Flow's key, as hex; the four lanes are its little-endian 64-bit words. */
export const FLOW_KEY_HASH_KEY = "ba737e89155238d47d8067c35aad4d25ecdd1c3488227e011ffa480c022bd3ba";

// State layout: 4 lanes each of v0, v1, mul0, mul1; lane i of a vector at
// word offsets [base + 2i] (low) and [base + 2i + 1] (high).
const V0 = 0, V1 = 8, MUL0 = 16, MUL1 = 24;

// The initial multipliers, as [low, high] words of each 64-bit lane.
const INIT_MUL0 = [0xfe4cce2f, 0xdbe6d5d5, 0x299f31d0, 0xa4093822, 0x03707344, 0x13198a2e, 0x85a308d3, 0x243f6a88];
const INIT_MUL1 = [0xcb0ef593, 0x3bd39e10, 0xb5f18a8c, 0xc0acf169, 0x34e90c6c, 0xbe5466cf, 0x38d01377, 0x452821e6];

/** A keyed HighwayHash-64 over whole byte strings. */
export class HighwayHash64 {
  private readonly key: Uint32Array;
  private readonly s = new Uint32Array(32);
  private readonly lanes = new Uint32Array(8);
  private readonly packet = new Uint8Array(32);

  /** `key`: 32 bytes. */
  constructor(key: Uint8Array) {
    if (key.length !== 32) throw new Error(`HighwayHash needs a 32-byte key, not ${key.length} bytes`);
    const k = new Uint32Array(8);
    for (let i = 0; i < 8; i++) k[i] = readU32(key, 4 * i);
    this.key = k;
  }

  /** The 64-bit hash of `data` as [low 32 bits, high 32 bits]. */
  hash(data: Uint8Array): [number, number] {
    this.reset();
    const whole = data.length & ~31;
    for (let at = 0; at < whole; at += 32) this.updateBytes(data, at);
    if (data.length & 31) this.updateRemainder(data, whole, data.length & 31);
    for (let i = 0; i < 4; i++) this.permuteAndUpdate();
    const s = this.s;
    // v0[0] + v1[0] + mul0[0] + mul1[0], modulo 2^64.
    let lo = s[V0]! + s[V1]! + s[MUL0]! + s[MUL1]!;
    const carry = Math.floor(lo / 0x1_0000_0000);
    lo >>>= 0;
    const hi = (s[V0 + 1]! + s[V1 + 1]! + s[MUL0 + 1]! + s[MUL1 + 1]! + carry) >>> 0;
    return [lo, hi];
  }

  private reset(): void {
    const s = this.s, k = this.key;
    for (let w = 0; w < 8; w++) {
      s[MUL0 + w] = INIT_MUL0[w]!;
      s[MUL1 + w] = INIT_MUL1[w]!;
      s[V0 + w] = INIT_MUL0[w]! ^ k[w]!;
    }
    // v1 starts from the key with the halves of each lane swapped.
    for (let i = 0; i < 4; i++) {
      s[V1 + 2 * i] = INIT_MUL1[2 * i]! ^ k[2 * i + 1]!;
      s[V1 + 2 * i + 1] = INIT_MUL1[2 * i + 1]! ^ k[2 * i]!;
    }
  }

  private updateBytes(data: Uint8Array, at: number): void {
    const lanes = this.lanes;
    for (let w = 0; w < 8; w++) lanes[w] = readU32(data, at + 4 * w);
    this.update(lanes);
  }

  /** The final partial packet of `size` (1..31) bytes starting at `at`. */
  private updateRemainder(data: Uint8Array, at: number, size: number): void {
    const s = this.s;
    // Every v0 lane gets size + (size << 32), every v1 half rotates by size.
    for (let i = 0; i < 4; i++) {
      addTo(s, V0 + 2 * i, size, size);
      s[V1 + 2 * i] = rotl32(s[V1 + 2 * i]!, size);
      s[V1 + 2 * i + 1] = rotl32(s[V1 + 2 * i + 1]!, size);
    }
    const packet = this.packet;
    packet.fill(0);
    const whole4 = size & ~3;
    const mod4 = size & 3;
    for (let i = 0; i < whole4; i++) packet[i] = data[at + i]!;
    const rest = at + whole4;
    if (size & 16) {
      // The last four bytes of the input land in the packet's last four.
      for (let i = 0; i < 4; i++) packet[28 + i] = data[rest + i + mod4 - 4]!;
    } else if (mod4) {
      packet[16] = data[rest]!;
      packet[17] = data[rest + (mod4 >> 1)]!;
      packet[18] = data[rest + mod4 - 1]!;
    }
    this.updateBytes(packet, 0);
  }

  private permuteAndUpdate(): void {
    const s = this.s, lanes = this.lanes;
    // Lanes 2, 3, 0, 1 of v0, each with its halves swapped.
    for (let i = 0; i < 4; i++) {
      const from = V0 + 2 * ((i + 2) & 3);
      lanes[2 * i] = s[from + 1]!;
      lanes[2 * i + 1] = s[from]!;
    }
    this.update(lanes);
  }

  private update(lanes: Uint32Array): void {
    const s = this.s;
    for (let i = 0; i < 4; i++) {
      const l = 2 * i;
      // v1 += mul0 + lane
      addTo(s, V1 + l, s[MUL0 + l]!, s[MUL0 + l + 1]!);
      addTo(s, V1 + l, lanes[l]!, lanes[l + 1]!);
      // mul0 ^= low32(v1) * high32(v0)
      mulXor(s, MUL0 + l, s[V1 + l]!, s[V0 + l + 1]!);
      // v0 += mul1
      addTo(s, V0 + l, s[MUL1 + l]!, s[MUL1 + l + 1]!);
      // mul1 ^= low32(v0) * high32(v1)
      mulXor(s, MUL1 + l, s[V0 + l]!, s[V1 + l + 1]!);
    }
    this.zipperMergeAndAdd(V1 + 2, V1 + 0, V0 + 2, V0 + 0);
    this.zipperMergeAndAdd(V1 + 6, V1 + 4, V0 + 6, V0 + 4);
    this.zipperMergeAndAdd(V0 + 2, V0 + 0, V1 + 2, V1 + 0);
    this.zipperMergeAndAdd(V0 + 6, V0 + 4, V1 + 6, V1 + 4);
  }

  /**
   * Adds a byte shuffle of two lanes to two others. With `a` the lane at
   * `aLane` and `b` the lane at `bLane`, bytes numbered from the least
   * significant: add0 += [a3 b4 a2 a5 b6 a1 b7 a0], add1 += [b3 a4 b2 b5 b1 a6 b0 a7].
   */
  private zipperMergeAndAdd(bLane: number, aLane: number, add1: number, add0: number): void {
    const s = this.s;
    const aLo = s[aLane]!, aHi = s[aLane + 1]!, bLo = s[bLane]!, bHi = s[bLane + 1]!;
    addTo(s, add0,
      (aLo >>> 24) | ((bHi & 0xff) << 8) | (aLo & 0xff0000) | ((aHi & 0xff00) << 16),
      ((bHi >>> 16) & 0xff) | (aLo & 0xff00) | ((bHi >>> 24) << 16) | ((aLo & 0xff) << 24));
    addTo(s, add1,
      (bLo >>> 24) | ((aHi & 0xff) << 8) | (bLo & 0xff0000) | ((bHi & 0xff00) << 16),
      ((bLo >>> 8) & 0xff) | ((aHi >>> 8) & 0xff00) | ((bLo & 0xff) << 16) | (aHi & 0xff000000));
  }
}

function readU32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function rotl32(x: number, n: number): number {
  return n === 0 ? x : ((x << n) | (x >>> (32 - n))) >>> 0;
}

/** s[at..at+1] += (lo, hi), modulo 2^64; the words may come signed from bit operators. */
function addTo(s: Uint32Array, at: number, lo: number, hi: number): void {
  const sum = s[at]! + (lo >>> 0);
  s[at] = sum;
  s[at + 1] = s[at + 1]! + hi + (sum > 0xffffffff ? 1 : 0);
}

/** s[at..at+1] ^= x * y, the full 64-bit product of two 32-bit words. */
function mulXor(s: Uint32Array, at: number, x: number, y: number): void {
  const xl = x & 0xffff, xh = x >>> 16, yl = y & 0xffff, yh = y >>> 16;
  const ll = xl * yl, lh = xl * yh, hl = xh * yl, hh = xh * yh;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  const lo = ((mid & 0xffff) << 16) | (ll & 0xffff);
  const hi = hh + Math.floor(lh / 0x10000) + Math.floor(hl / 0x10000) + Math.floor(mid / 0x10000);
  s[at] = s[at]! ^ lo;
  s[at + 1] = s[at + 1]! ^ hi;
}

const flowHasher = new HighwayHash64(Buffer.from(FLOW_KEY_HASH_KEY, "hex"));

/** Flow's packed-key hash: the high word of HighwayHash-64 under Flow's key. */
export function keyHash(packed: Uint8Array): number {
  return flowHasher.hash(packed)[1];
}
