/**
 * PostgreSQL's answers to the SQL toolkit: type mapping, in-place type
 * migrations, and DDL spelling.
 */
import type { Projection } from "../../src/gen/flow/flow_pb.js";
import type { Dialect, MappedType } from "../../src/sql/dialect.js";
import { exceedsInt64, type FlatType } from "../../src/sql/flat-type.js";
import type { DdlRenderer } from "../../src/sql/apply-plan.js";
import { quoteLiteral } from "../../src/postgres/literal.js";
import type { Table } from "../../src/sql/table.js";
import { RESERVED_WORDS } from "./reserved-words.js";

const t = (ddl: string, compatible: string[], encoding: MappedType["encoding"], notNull: boolean): MappedType => ({
  ddl,
  compatible,
  encoding,
  notNull,
});

const JSON_TYPES = ["json", "jsonb"];
const TEXT_TYPES = ["text", "character varying"];

function mapType(_p: Projection, flat: FlatType, role: { isKey: boolean; isDocument: boolean }): MappedType | { forbidden: string } {
  const nn = flat.mustExist || role.isKey;
  if (role.isDocument) return t("JSON", JSON_TYPES, "verbatim", true);
  switch (flat.kind) {
    case "none":
      return { forbidden: "Cannot materialize a field with no types other than null" };
    case "integer":
      return exceedsInt64(flat) ? t("NUMERIC", ["numeric"], "verbatim", nn) : t("BIGINT", ["bigint"], "verbatim", nn);
    case "number":
      return t("DOUBLE PRECISION", ["double precision"], "verbatim", nn);
    case "boolean":
      return t("BOOLEAN", ["boolean"], "verbatim", nn);
    case "string_integer":
    case "string_number":
      return t("NUMERIC", ["numeric"], "string", nn);
    case "binary":
      return t("BYTEA", ["bytea"], "base64", nn);
    case "object":
    case "array":
    case "multiple":
      // Keys need equality: jsonb has it, json does not.
      return role.isKey ? t("JSONB", ["jsonb"], "verbatim", nn) : t("JSON", JSON_TYPES, "verbatim", nn);
    case "string":
      switch (flat.format) {
        case "date":
          return t("DATE", ["date"], "string", nn);
        case "date-time":
          return t("TIMESTAMPTZ", ["timestamp with time zone"], "string", nn);
        case "time":
          return t("TIME", ["time without time zone", "time with time zone"], "string", nn);
        case "uuid":
          return t("UUID", ["uuid", ...TEXT_TYPES], "string", nn);
        case "duration":
          return t("INTERVAL", ["interval"], "string", nn);
        case "ipv4":
        case "ipv6":
          // cidr takes a plain address as a /32 or /128 network.
          return t("INET", ["inet", "cidr"], "string", nn);
        case "macaddr":
          return t("MACADDR", ["macaddr"], "string", nn);
        case "macaddr8":
          return t("MACADDR8", ["macaddr8"], "string", nn);
        default:
          return t("TEXT", TEXT_TYPES, "text", nn);
      }
  }
}

const RFC3339_UTC = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

/**
 * An unconstrained type that holds every value of the same type with a
 * modifier (`character varying(8)` in `text`, `numeric(10,2)` in `numeric`),
 * keyed by the modifier-free spelling.
 */
const WIDENED: Record<string, string> = {
  "character varying": "text",
  numeric: "numeric",
  "timestamp with time zone": "timestamptz",
  "time without time zone": "time",
  interval: "interval",
};

/** `numeric(10,2)` → `numeric`, `timestamp(3) with time zone` → `timestamp with time zone`. */
const withoutModifier = (type: string) => type.replace(/\(\d+(?:,\d+)?\)/, "").replace(/\s+/g, " ").trim();

const TO_TEXT = ["bigint", "integer", "smallint", "numeric", "double precision", "real", "date", "time without time zone", "uuid", "boolean", "json", "jsonb", "inet", "cidr", "macaddr", "macaddr8", "interval"];

/**
 * Casts PostgreSQL performs in place with ALTER COLUMN ... TYPE ... USING,
 * where every value the new type takes fits afterwards (the table-driven
 * test in type-pairs.test.ts stores sample values after each of them).
 */
function migration(from: string, to: MappedType, column: string): string | undefined {
  const target = to.ddl.toLowerCase();
  const f = withoutModifier(from.toLowerCase());
  const constrained = f !== from.toLowerCase();
  if (constrained && WIDENED[f] === target) return `${column}::${target}`;
  if (target === "json") return `to_json(${column})`;
  if (target === "jsonb" && f === "json") return `${column}::jsonb`;
  if (target === "text") {
    if (f === "timestamp with time zone") return `to_char(${column} AT TIME ZONE 'UTC', ${RFC3339_UTC})`;
    if (TO_TEXT.includes(f)) return `${column}::text`;
    if (f === "bytea") return `translate(encode(${column}, 'base64'), E'\\n', '')`;
  }
  if (target === "bigint" && (f === "integer" || f === "smallint")) return `${column}::bigint`;
  if (target === "numeric" && ["bigint", "integer", "smallint"].includes(f)) return `${column}::numeric`;
  if (target === "double precision" && ["bigint", "integer", "smallint", "numeric", "real"].includes(f)) return `${column}::double precision`;
  return undefined;
}

export const pgDialect: Dialect = {
  reserved: RESERVED_WORDS,
  maxIdentifierBytes: 63,
  mapType,
  migration,
};

function columnDef(c: Table["columns"][number]): string {
  return `${c.ident} ${c.mapped.ddl}${c.mapped.notNull ? " NOT NULL" : ""}`;
}

function comment(c: Table["columns"][number]): string {
  const p = c.projection;
  const what = p.inference?.description || p.inference?.title;
  const auto = `auto-generated projection of JSON at: ${p.ptr || "(root document)"} with inferred types: [${(p.inference?.types ?? []).join(" ")}]`;
  return what ? `${what}\n${auto}` : auto;
}

/**
 * Table comment marking tables created by this connector. Only such tables
 * take rows the runtime reports as new by plain COPY; a table that existed
 * before (or whose comment was removed) gets every row through the upsert,
 * which tolerates rows the runtime does not know about.
 */
export const OWNED_TABLE_COMMENT = "Materialized by Tributary materialize-postgres; rows are written only by this connector";

export const pgDdl: DdlRenderer = {
  createTable(table) {
    const cols = table.columns.map((c) => "  " + columnDef(c));
    if (!table.deltaUpdates && table.keys.length > 0) cols.push(`  PRIMARY KEY (${table.keys.map((k) => k.ident).join(", ")})`);
    return [
      `CREATE TABLE IF NOT EXISTS ${table.ident} (\n${cols.join(",\n")}\n)`,
      `COMMENT ON TABLE ${table.ident} IS ${quoteLiteral(OWNED_TABLE_COMMENT)}`,
      ...table.columns.map((c) => `COMMENT ON COLUMN ${table.ident}.${c.ident} IS ${quoteLiteral(comment(c))}`),
    ];
  },
  addColumn: (table, c) => `ALTER TABLE ${table.ident} ADD COLUMN ${c.ident} ${c.mapped.ddl}`,
  dropNotNull: (table, ident) => `ALTER TABLE ${table.ident} ALTER COLUMN ${ident} DROP NOT NULL`,
  alterType: (table, c, using) => `ALTER TABLE ${table.ident} ALTER COLUMN ${c.ident} TYPE ${c.mapped.ddl} USING ${using}`,
  truncate: (table) => `TRUNCATE TABLE ${table.ident}`,
  dropTable: (table) => `DROP TABLE IF EXISTS ${table.ident}`,
};
