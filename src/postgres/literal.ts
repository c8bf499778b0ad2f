/**
 * String literals and session settings that keep SQL text unambiguous
 * whatever the server is configured with.
 *
 * A plain '...' literal means different things under
 * standard_conforming_strings = on and off: with it off (a setting old
 * databases and roles still carry), a backslash escapes the next character,
 * so doubling quotes alone lets `\'` close the literal early and whatever
 * follows runs as SQL. An E'...' literal always treats backslash as an
 * escape, so escaping both backslashes and quotes gives the same string
 * under either setting. Every connection also pins the setting on, so
 * anything written elsewhere in the standard form reads the standard way.
 *
 * The escaping is only as good as the server's reading of the bytes:
 * node-postgres writes UTF-8 but does not say so at startup, and a client
 * encoding such as SJIS or BIG5 (a database or role default) reads a UTF-8
 * continuation byte plus the escaping backslash as one character, leaving
 * the next backslash to escape a quote. So client_encoding is pinned too.
 */

/** Startup options pinning the settings literals depend on (libpq `options` syntax). */
export const SAFE_SESSION_OPTIONS = "-c standard_conforming_strings=on -c client_encoding=UTF8";

/**
 * `value` as an escape-string literal, E'...', with backslashes and single
 * quotes escaped. NUL cannot be part of a PostgreSQL string (and would end
 * the statement text early), so it is dropped.
 */
export function quoteLiteral(value: string): string {
  const clean = value.includes("\u0000") ? value.replace(/\u0000/g, "") : value;
  return "E'" + clean.replace(/\\/g, "\\\\").replace(/'/g, "''") + "'";
}
