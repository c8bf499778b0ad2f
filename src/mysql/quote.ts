/**
 * MySQL/MariaDB identifiers. Every identifier is quoted with backticks,
 * which mean an identifier under every sql_mode (ANSI_QUOTES only adds
 * double quotes as a second spelling). Values never go into SQL text: they
 * are bound as parameters or streamed by LOAD DATA.
 */

/** `name` in backticks, embedded backticks doubled. */
export function quoteMysqlIdentifier(name: string): string {
  return "`" + name.replace(/`/g, "``") + "`";
}

/**
 * Why the server would refuse `name` as an identifier, or undefined when it
 * is acceptable: MySQL and MariaDB take any character of the Basic
 * Multilingual Plane but U+0000, and no name may end in a space.
 */
export function mysqlIdentifierProblem(name: string): string | undefined {
  if (name === "") return "MySQL identifiers cannot be empty";
  if (name.includes("\u0000")) return "MySQL identifiers cannot contain the NUL character";
  // Any surrogate code unit means a character outside the BMP.
  if (/[\uD800-\uDFFF]/.test(name)) return "MySQL identifiers can only hold characters of the Basic Multilingual Plane (no emoji and the like)";
  if (name.endsWith(" ")) return "MySQL identifiers cannot end with a space";
  return undefined;
}

/**
 * The key under which MySQL compares column names: without case, but with
 * accents ("Ü" = "ü", "é" ≠ "e"), as the server's duplicate-column check does.
 */
export function mysqlColumnKey(name: string): string {
  return name.toLowerCase();
}
