/**
 * RFC 6901 JSON pointers: parsing, escaping, and reading a location of a
 * document. Collection keys, projections and reduce annotations are all
 * addressed this way.
 */

/** Splits a pointer into unescaped tokens; "" is the document root. */
export function parsePointer(ptr: string): string[] {
  if (ptr === "") return [];
  if (!ptr.startsWith("/")) throw new Error(`invalid JSON pointer ${JSON.stringify(ptr)}: must be empty or start with "/"`);
  return ptr
    .slice(1)
    .split("/")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

export function escapeToken(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

export function joinPointer(tokens: string[]): string {
  return tokens.map((t) => "/" + escapeToken(t)).join("");
}

/** The value at `ptr`, or undefined when the location does not exist. */
export function getAt(doc: unknown, ptr: string | string[]): unknown {
  const tokens = typeof ptr === "string" ? parsePointer(ptr) : ptr;
  let cur: unknown = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) {
      if (!/^(0|[1-9][0-9]*)$/.test(t)) return undefined;
      cur = cur[Number(t)];
    } else if (cur !== null && typeof cur === "object") {
      if (!Object.prototype.hasOwnProperty.call(cur, t)) return undefined;
      cur = (cur as Record<string, unknown>)[t];
    } else {
      return undefined;
    }
  }
  return cur;
}
