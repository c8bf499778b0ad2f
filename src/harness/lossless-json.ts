/**
 * JSON for documents as Flow's runtime treats them: integers keep every
 * digit. Integers that a JS number cannot hold exactly (beyond 2^53) are
 * parsed as BigInt and written back as the same digits; everything else is
 * plain JSON.parse / JSON.stringify, which stay the fast path.
 */

/** A run of 16+ digits is the only way a JSON text can hold an unsafe integer. */
const LONG_DIGITS = /\d{16}/;

export function parseJson(text: string): unknown {
  const plain = JSON.parse(text);
  return LONG_DIGITS.test(text) ? new Parser(text).document() : plain;
}

export function stringifyJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (!(err instanceof TypeError) || !/BigInt/i.test(err.message)) throw err;
    return write(value);
  }
}

/** A copy of `value` with BigInts as (rounded) numbers, for checks that only need types. */
export function withoutBigInts(value: unknown): unknown {
  if (typeof value === "bigint") return Number(value);
  if (Array.isArray(value)) return value.map(withoutBigInts);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = withoutBigInts(v);
    return out;
  }
  return value;
}

function write(v: unknown): string {
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? "null" : write(x))).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const parts: string[] = [];
    for (const [k, x] of Object.entries(v)) if (x !== undefined) parts.push(`${JSON.stringify(k)}:${write(x)}`);
    return `{${parts.join(",")}}`;
  }
  return JSON.stringify(v);
}

/** Recursive descent over text JSON.parse has already accepted. */
class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  document(): unknown {
    const v = this.value();
    return v;
  }

  private ws() {
    while (this.i < this.s.length && " \t\n\r".includes(this.s[this.i]!)) this.i++;
  }

  private value(): unknown {
    this.ws();
    const c = this.s[this.i]!;
    if (c === "{") {
      this.i++;
      const out: Record<string, unknown> = {};
      this.ws();
      if (this.s[this.i] === "}") {
        this.i++;
        return out;
      }
      for (;;) {
        this.ws();
        const k = this.string();
        this.ws();
        this.i++; // ':'
        const v = this.value();
        if (k === "__proto__") Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
        else out[k] = v;
        this.ws();
        if (this.s[this.i++] === "}") return out;
      }
    }
    if (c === "[") {
      this.i++;
      const out: unknown[] = [];
      this.ws();
      if (this.s[this.i] === "]") {
        this.i++;
        return out;
      }
      for (;;) {
        out.push(this.value());
        this.ws();
        if (this.s[this.i++] === "]") return out;
      }
    }
    if (c === '"') return this.string();
    if (c === "t") return (this.i += 4), true;
    if (c === "f") return (this.i += 5), false;
    if (c === "n") return (this.i += 4), null;
    return this.number();
  }

  private string(): string {
    const start = this.i++;
    while (this.s[this.i] !== '"') this.i += this.s[this.i] === "\\" ? 2 : 1;
    this.i++;
    return JSON.parse(this.s.slice(start, this.i));
  }

  private number(): number | bigint {
    const start = this.i;
    while (this.i < this.s.length && "+-0123456789.eE".includes(this.s[this.i]!)) this.i++;
    const text = this.s.slice(start, this.i);
    const n = Number(text);
    if (!Number.isSafeInteger(n) && /^-?\d+$/.test(text)) return BigInt(text);
    return n;
  }
}
