/**
 * Names as a particular dialect sees them: how a field becomes a column name
 * (cut to the dialect's limit), how it is quoted, and which names the
 * destination considers the same column.
 */
import type { Dialect } from "./dialect.js";
import { foldIdentifier, quoteIdentifier } from "./identifiers.js";

type Names = Pick<Dialect, "reserved" | "maxIdentifierBytes" | "maxIdentifierChars" | "quoteIdentifier" | "columnKey">;

/** `name` cut to the dialect's identifier limit without splitting a character. */
export function foldName(d: Names, name: string): string {
  const chars = d.maxIdentifierChars ?? 0;
  if (chars > 0) {
    const cps = [...name];
    return cps.length <= chars ? name : cps.slice(0, chars).join("");
  }
  return foldIdentifier(name, d.maxIdentifierBytes);
}

/** The limit in words for error messages, e.g. "63 bytes" or "64 characters". */
export function limitText(d: Names): string {
  return d.maxIdentifierChars ? `${d.maxIdentifierChars} characters` : `${d.maxIdentifierBytes} bytes`;
}

export function quoteName(d: Names, name: string): string {
  return d.quoteIdentifier ? d.quoteIdentifier(name) : quoteIdentifier(name, d.reserved);
}

export function quoteNames(d: Names, path: readonly string[]): string {
  return path.map((p) => quoteName(d, p)).join(".");
}

/** The key under which the destination identifies column `name`. */
export function columnKey(d: Names, name: string): string {
  return d.columnKey ? d.columnKey(name) : name;
}

/**
 * Folds every field name and reports fields that become the same column
 * (after cutting, and after the dialect's case rules), so that two fields
 * never silently write one column.
 */
export function foldNames(
  d: Names,
  fields: readonly string[],
): { folded: Map<string, string>; collisions: Array<[string, string, string]> } {
  const folded = new Map<string, string>();
  const owner = new Map<string, string>();
  const collisions: Array<[string, string, string]> = [];
  for (const f of fields) {
    const name = foldName(d, f);
    folded.set(f, name);
    const key = columnKey(d, name);
    const prior = owner.get(key);
    if (prior !== undefined && prior !== f) collisions.push([prior, f, name]);
    else owner.set(key, f);
  }
  return { folded, collisions };
}
