/**
 * NATS names built from Flow values: KV keys from a document's key, and
 * subject tokens from names such as the materialization's.
 *
 * A KV key may hold only `A-Z a-z 0-9 - _ = / .`, where `.` separates
 * tokens and no token may be empty. A document key `[c1, c2, ...]` becomes
 * `t1.t2...`, one token per component, by a deterministic one-to-one code:
 *
 *   integer           its JSON digits as-is          42, -7
 *   string            as-is when it is only A-Z a-z 0-9 _ - and does not
 *                     read as an integer; else `=s` + base64url(UTF-8)
 *   true/false/null   `=t`, `=f`, `=n`
 *   other numbers     `=d` + base64url(JSON text)
 *
 * Plain tokens never start with `=`, and base64url never holds `.`, so two
 * different keys never share a name and the key can be decoded back.
 */
import { arrayElements, elementText } from "../../src/codec/json-elements.js";

const PLAIN = /^[A-Za-z0-9_-]+$/;
const INTEGER = /^-?[0-9]+$/;
/** Longer keys would crowd the 4 KiB protocol line that carries the subject. */
export const MAX_KEY_BYTES = 2048;

function b64(s: string): string {
  return Buffer.from(s, "utf8").toString("base64url");
}

/** One key component (the verbatim JSON text of an element) as a KV key token. */
export function componentToken(element: string): string {
  const c = element.charCodeAt(0);
  if (c === 0x22 /* " */) {
    const s = elementText(element);
    return PLAIN.test(s) && !INTEGER.test(s) ? s : `=s${b64(s)}`;
  }
  if (element === "true") return "=t";
  if (element === "false") return "=f";
  if (element === "null") return "=n";
  if (INTEGER.test(element)) return element;
  if (c === 0x7b /* { */ || c === 0x5b /* [ */) throw new Error("a document key component must be a scalar, not an object or array");
  return `=d${b64(element)}`;
}

/** The KV key of a document key given as JSON array text (as Stores and Loads carry it). */
export function kvKey(keyJson: string): string {
  const parts = arrayElements(keyJson, "document key");
  if (parts.length === 0) throw new Error("a document key has no components");
  const key = parts.map(componentToken).join(".");
  if (key.length > MAX_KEY_BYTES) {
    throw new Error(`a document key encodes to a KV key of ${key.length} bytes; keys longer than ${MAX_KEY_BYTES} bytes are refused`);
  }
  return key;
}

/** Decodes a KV key made by kvKey back to the key's values (strings, numbers as text, booleans, null). */
export function decodeKvKey(key: string): Array<string | boolean | null | { number: string }> {
  return key.split(".").map((t) => {
    if (!t.startsWith("=")) return INTEGER.test(t) ? { number: t } : t;
    const body = Buffer.from(t.slice(2), "base64url").toString("utf8");
    switch (t[1]) {
      case "s":
        return body;
      case "d":
        return { number: body };
      case "t":
        return true;
      case "f":
        return false;
      case "n":
        return null;
    }
    throw new Error(`${JSON.stringify(t)} is not a token of an encoded key`);
  });
}

/**
 * A name as one subject token: as-is when it is only A-Z a-z 0-9 _ - /,
 * else `=` + base64url. Used for the materialization's name and the shard's
 * key range in the connector's own subjects and keys.
 */
export function nameToken(name: string): string {
  return /^[A-Za-z0-9_/-]+$/.test(name) ? name : `=${b64(name)}`;
}
