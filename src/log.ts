/**
 * Structured logging on stderr, in the shape Flow's runtime parses: one JSON
 * object per line with `level`, `msg`, `ts` and any other fields.
 *
 * LOG_LEVEL selects the threshold (trace, debug, info, warn, error; default
 * info). LOG_FORMAT=json (the default, and what Flow sets) writes JSON lines;
 * LOG_FORMAT=text writes `LEVEL msg key=value` for people at a terminal.
 *
 * At every level, credentials inside URL-like text (the message and every
 * string in the fields, however deep) are replaced by <redacted> before the
 * line is written: see redactSecrets.
 */
export type Level = "trace" | "debug" | "info" | "warn" | "error";
const RANK: Record<Level, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4 };

export type Fields = Record<string, unknown>;

export interface Logger {
  trace(msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  enabled(level: Level): boolean;
  /** A logger that adds `fields` to every line. */
  with(fields: Fields): Logger;
}

export interface LoggerOptions {
  level?: string;
  format?: string;
  write?: (line: string) => void;
}

function parseLevel(value: string | undefined): Level {
  const v = (value ?? "").toLowerCase();
  if (v === "warning") return "warn";
  if (v === "fatal" || v === "panic") return "error";
  return v in RANK ? (v as Level) : "info";
}

const REDACTED = "<redacted>";
// scheme://userinfo@ — greedy up to the last @ of the authority, so an
// unencoded @ inside a password is covered too.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#"'<>]*)@/gi;
// user:password@host with no scheme.
const BARE_USERINFO = /(^|[\s"'(=,])([^\s:@/?#"'(=,]+):([^\s/?#"']+)@(?=[\w[])/g;
// password=... in a query string or a libpq conninfo.
const SECRET_PARAM = /\b(password|passwd|pwd|pass|sslpassword|secret|token|access_token|api_?key|access_?key)=([^\s&;'"]+)/gi;

/**
 * `text` with the credentials of URL-like values replaced by <redacted>:
 * the password of scheme://user:password@host (the whole user info when it
 * has no colon: it is then a token), of user:password@host, and values of
 * password=, token= and similar parameters.
 */
export function redactSecrets(text: string): string {
  if (!text.includes("@") && !text.includes("=")) return text;
  return text
    .replace(URL_USERINFO, (_m, scheme: string, info: string) => {
      if (info === "") return `${scheme}@`;
      const colon = info.indexOf(":");
      return colon < 0 ? `${scheme}${REDACTED}@` : `${scheme}${info.slice(0, colon)}:${REDACTED}@`;
    })
    .replace(BARE_USERINFO, (_m, lead: string, user: string) => `${lead}${user}:${REDACTED}@`)
    .replace(SECRET_PARAM, (_m, key: string) => `${key}=${REDACTED}`);
}

/** A copy of `value` with redactSecrets applied to every string in it. */
export function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return redactSecrets(value);
  if (value instanceof Error) return redactSecrets(value.message);
  if (typeof value === "bigint") return value.toString();
  if (value === null || typeof value !== "object" || depth > 32) return value;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1));
  if (ArrayBuffer.isView(value)) return value;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") return redactDeep(toJSON.call(value), depth + 1);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = redactDeep(v, depth + 1);
  return out;
}

function jsonSafe(value: unknown): unknown {
  return redactDeep(value);
}

export function createLogger(opts: LoggerOptions = {}, base: Fields = {}): Logger {
  const threshold = RANK[parseLevel(opts.level ?? process.env.LOG_LEVEL)];
  const text = (opts.format ?? process.env.LOG_FORMAT ?? "json").toLowerCase() === "text";
  const write = opts.write ?? ((line: string) => process.stderr.write(line));

  const emit = (level: Level, msg: string, fields?: Fields) => {
    if (RANK[level] < threshold) return;
    const all = { ...base, ...fields };
    msg = redactSecrets(msg);
    if (text) {
      const kv = Object.entries(all)
        .map(([k, v]) => `${k}=${JSON.stringify(jsonSafe(v))}`)
        .join(" ");
      write(`${level.toUpperCase()} ${msg}${kv ? " " + kv : ""}\n`);
    } else {
      const line: Record<string, unknown> = { level, msg, ts: new Date().toISOString() };
      for (const [k, v] of Object.entries(all)) line[k] = jsonSafe(v);
      write(JSON.stringify(line) + "\n");
    }
  };
  return {
    trace: (m, f) => emit("trace", m, f),
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    enabled: (level) => RANK[level] >= threshold,
    with: (fields) => createLogger(opts, { ...base, ...fields }),
  };
}
