/**
 * MySQL/MariaDB answers to the SQL toolkit: type mapping, in-place type
 * changes (MODIFY COLUMN), and DDL spelling. Names are backtick-quoted,
 * cut to 64 characters and compared as MySQL compares column names.
 */
import type { Projection } from "../../src/gen/flow/flow_pb.js";
import type { DdlRenderer } from "../../src/sql/apply-plan.js";
import type { Dialect, MappedType } from "../../src/sql/dialect.js";
import type { FenceDialect } from "../../src/sql/fence.js";
import type { FlatType } from "../../src/sql/flat-type.js";
import type { Table } from "../../src/sql/table.js";
import { mysqlColumnKey, mysqlIdentifierProblem, quoteMysqlIdentifier } from "../../src/mysql/quote.js";

const t = (ddl: string, compatible: string[], encoding: MappedType["encoding"], notNull: boolean): MappedType => ({ ddl, compatible, encoding, notNull });

const JSON_TYPES = ["json", "longtext"]; // MariaDB's JSON is LONGTEXT with a json_valid check
const TEXT_TYPES = ["longtext", "mediumtext", "text", "varchar"];
const INT64_MAX = 2 ** 63 - 1;
const UINT64_MAX = 2 ** 64; // as a double, 2^64-1 rounds to 2^64

/** Length of VARCHAR string keys: three such keys fit InnoDB's 3072-byte index limit in utf8mb4. */
export const KEY_VARCHAR = 255;

export interface MysqlDialectOptions {
  /**
   * Collation of string key columns: binary and, where the server has one,
   * without padding, so that keys differing in case or trailing spaces stay
   * distinct rows.
   */
  keyCollation: string;
}

function integerType(flat: FlatType, nn: boolean): MappedType {
  const max = flat.maximum;
  const min = flat.minimum;
  if ((max === undefined || max <= INT64_MAX) && (min === undefined || min >= -(2 ** 63))) return t("BIGINT", ["bigint"], "verbatim", nn);
  if (min !== undefined && min >= 0 && max !== undefined && max <= UINT64_MAX) return t("BIGINT UNSIGNED", ["bigint unsigned"], "verbatim", nn);
  return t("DECIMAL(65,0)", ["decimal"], "verbatim", nn);
}

export function mysqlDialect(opts: MysqlDialectOptions): Dialect {
  const stringKey = `VARCHAR(${KEY_VARCHAR}) CHARACTER SET utf8mb4 COLLATE ${opts.keyCollation}`;
  function mapType(p: Projection, flat: FlatType, role: { isKey: boolean; isDocument: boolean }): MappedType | { forbidden: string } {
    const bad = mysqlIdentifierProblem(p.field);
    if (bad) return { forbidden: `${bad}; the field cannot become a column` };
    const nn = flat.mustExist || role.isKey;
    if (role.isDocument) return t("JSON", JSON_TYPES, "verbatim", true);
    switch (flat.kind) {
      case "none":
        return { forbidden: "Cannot materialize a field with no types other than null" };
      case "integer":
        return integerType(flat, nn);
      case "number":
        return t("DOUBLE", ["double"], "verbatim", nn);
      case "boolean":
        return t("BOOLEAN", ["tinyint"], "boolean_digit", nn);
      case "string_integer":
        return t("DECIMAL(65,0)", ["decimal"], "string", nn);
      case "string_number":
        return t("DECIMAL(65,30)", ["decimal"], "string", nn);
      case "binary":
        return role.isKey ? t(`VARBINARY(${KEY_VARCHAR * 4})`, ["varbinary"], "base64", nn) : t("LONGBLOB", ["longblob"], "base64", nn);
      case "object":
      case "array":
      case "multiple":
        if (role.isKey) return { forbidden: "MySQL cannot index a JSON column, so it cannot be part of the key" };
        return t("JSON", JSON_TYPES, "verbatim", nn);
      case "string":
        switch (flat.format) {
          case "date":
            return t("DATE", ["date"], "string", nn);
          case "date-time":
            return t("DATETIME(6)", ["datetime"], "datetime_utc", nn);
          default:
            return role.isKey ? t(stringKey, ["varchar"], "string", nn) : t("LONGTEXT", TEXT_TYPES, "string", nn);
        }
    }
  }

  /** MODIFY COLUMN converts these in place; the expression is unused (MySQL converts by the column's new type). */
  function migration(from: string, to: MappedType, _column: string): string | undefined {
    const target = to.ddl.toLowerCase();
    const f = from.toLowerCase();
    const numeric = ["bigint", "bigint unsigned", "int", "int unsigned", "smallint", "tinyint", "mediumint"];
    if (target === "longtext" && [...numeric, "double", "decimal", "date", "datetime", "varchar", "text", "mediumtext"].includes(f)) return "";
    if (target === "double" && [...numeric, "decimal", "float"].includes(f)) return "";
    if (target.startsWith("decimal(65,") && numeric.includes(f)) return "";
    if (target === "bigint" && ["int", "int unsigned", "smallint", "tinyint", "mediumint"].includes(f)) return "";
    return undefined;
  }

  return {
    reserved: new Set(),
    maxIdentifierBytes: 0,
    maxIdentifierChars: 64,
    quoteIdentifier: quoteMysqlIdentifier,
    columnKey: mysqlColumnKey,
    mapType,
    migration,
  };
}

/**
 * Table comment marking tables created by this connector: only those are
 * trusted to hold nothing but what the runtime stored, so the runtime may
 * skip Loads of keys it has never stored.
 */
export const OWNED_TABLE_COMMENT = "Materialized by Tributary materialize-mysql";

const columnDef = (c: Table["columns"][number]) => `${c.ident} ${c.mapped.ddl}${c.mapped.notNull ? " NOT NULL" : ""}`;

export function mysqlDdl(opts: MysqlDialectOptions): DdlRenderer {
  return {
    createTable(table) {
      const cols = table.columns.map((c) => "  " + columnDef(c));
      if (!table.deltaUpdates && table.keys.length > 0) cols.push(`  PRIMARY KEY (${table.keys.map((k) => k.ident).join(", ")})`);
      // The comment is a constant without quotes or backslashes: one meaning under every sql_mode.
      return [
        `CREATE TABLE IF NOT EXISTS ${table.ident} (\n${cols.join(",\n")}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${opts.keyCollation} COMMENT='${OWNED_TABLE_COMMENT}'`,
      ];
    },
    addColumn: (table, c) => `ALTER TABLE ${table.ident} ADD COLUMN ${c.ident} ${c.mapped.ddl}`,
    dropNotNull: (table, ident, ex) => `ALTER TABLE ${table.ident} MODIFY COLUMN ${ident} ${ex.fullType ?? ex.type} NULL`,
    alterType: (table, c) => `ALTER TABLE ${table.ident} MODIFY COLUMN ${c.ident} ${c.mapped.ddl}${c.mapped.notNull ? " NOT NULL" : " NULL"}`,
    alterTypeSetsNullability: true,
    truncate: (table) => `TRUNCATE TABLE ${table.ident}`,
    dropTable: (table) => `DROP TABLE IF EXISTS ${table.ident}`,
  };
}

export const mysqlFence: FenceDialect = {
  param: () => "?",
  // ER_LOCK_DEADLOCK (InnoDB rolled the whole transaction back); SQLSTATE 40001 covers the same.
  conflict: (err) => (err as { errno?: number })?.errno === 1213 || (err as { sqlState?: string })?.sqlState === "40001",
  createTable: (ident) =>
    `CREATE TABLE IF NOT EXISTS ${ident} (\n` +
    `  materialization VARCHAR(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n` +
    `  key_begin BIGINT NOT NULL,\n` +
    `  key_end BIGINT NOT NULL,\n` +
    `  fence BIGINT NOT NULL,\n` +
    `  checkpoint LONGTEXT NOT NULL,\n` +
    `  PRIMARY KEY (materialization, key_begin, key_end)\n) ENGINE=InnoDB`,
  // Assignments run left to right: fence is computed before checkpoint changes.
  upsert: (ident) =>
    `INSERT INTO ${ident} (materialization, key_begin, key_end, fence, checkpoint) VALUES (?, ?, ?, ?, ?) ` +
    `ON DUPLICATE KEY UPDATE fence = GREATEST(fence + 1, VALUES(fence)), checkpoint = VALUES(checkpoint)`,
};
