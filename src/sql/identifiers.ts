/**
 * Identifier handling shared by SQL destinations: when a name needs quotes,
 * how it is quoted, and how a destination's length limit folds it.
 *
 * Case is always preserved: a name is left bare only when the database would
 * read it back unchanged (lower-case ASCII, not a keyword), otherwise it is
 * double-quoted so that `userId`, `two words` or `1st` keep their spelling.
 */

const SIMPLE = /^[a-z_][a-z0-9_]*$/;

/** True when `name` can appear unquoted and still mean exactly `name`. */
export function isSimpleIdentifier(name: string, reserved: ReadonlySet<string>): boolean {
  return SIMPLE.test(name) && !reserved.has(name);
}

/** Quotes one identifier component when needed, doubling embedded quotes. */
export function quoteIdentifier(name: string, reserved: ReadonlySet<string>): string {
  if (isSimpleIdentifier(name, reserved)) return name;
  return '"' + name.replace(/"/g, '""') + '"';
}

/** Quotes a dotted path such as [schema, table]. */
export function quotePath(path: readonly string[], reserved: ReadonlySet<string>): string {
  return path.map((p) => quoteIdentifier(p, reserved)).join(".");
}

/**
 * Truncates `name` to at most `maxBytes` UTF-8 bytes without splitting a
 * character, which is what PostgreSQL does silently to long identifiers.
 */
export function foldIdentifier(name: string, maxBytes: number): string {
  if (maxBytes <= 0 || Buffer.byteLength(name, "utf8") <= maxBytes) return name;
  let bytes = 0;
  let out = "";
  for (const ch of name) {
    const n = Buffer.byteLength(ch, "utf8");
    if (bytes + n > maxBytes) break;
    bytes += n;
    out += ch;
  }
  return out;
}

/**
 * Folds every field name and reports names that collide after folding, so
 * that two long fields never silently write one column.
 */
export function foldFields(
  fields: readonly string[],
  maxBytes: number,
): { folded: Map<string, string>; collisions: Array<[string, string, string]> } {
  const folded = new Map<string, string>();
  const owner = new Map<string, string>();
  const collisions: Array<[string, string, string]> = [];
  for (const f of fields) {
    const name = foldIdentifier(f, maxBytes);
    folded.set(f, name);
    const prior = owner.get(name);
    if (prior !== undefined && prior !== f) collisions.push([prior, f, name]);
    else owner.set(name, f);
  }
  return { folded, collisions };
}
