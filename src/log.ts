/**
 * Structured logging on stderr, in the shape Flow's runtime parses: one JSON
 * object per line with `level`, `msg`, `ts` and any other fields.
 *
 * LOG_LEVEL selects the threshold (trace, debug, info, warn, error; default
 * info). LOG_FORMAT=json (the default, and what Flow sets) writes JSON lines;
 * LOG_FORMAT=text writes `LEVEL msg key=value` for people at a terminal.
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

function jsonSafe(value: unknown): unknown {
  if (value instanceof Error) return value.message;
  if (typeof value === "bigint") return value.toString();
  return value;
}

export function createLogger(opts: LoggerOptions = {}, base: Fields = {}): Logger {
  const threshold = RANK[parseLevel(opts.level ?? process.env.LOG_LEVEL)];
  const text = (opts.format ?? process.env.LOG_FORMAT ?? "json").toLowerCase() === "text";
  const write = opts.write ?? ((line: string) => process.stderr.write(line));

  const emit = (level: Level, msg: string, fields?: Fields) => {
    if (RANK[level] < threshold) return;
    const all = { ...base, ...fields };
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
