/** Type mapping and migrations of the MySQL dialect, without a server. */
import { describe, expect, it } from "vitest";
import { isForbidden, type MappedType } from "../../src/sql/dialect.js";
import { flatType } from "../../src/sql/flat-type.js";
import { collection } from "../../src/sql/test-fixtures.js";
import type { ProjectionDesc } from "../../src/sql/test-fixtures.js";
import { mysqlDialect } from "./dialect.js";

const d = mysqlDialect({ keyCollation: "utf8mb4_nopad_bin" });

function map(p: ProjectionDesc, role: { isKey?: boolean; isDocument?: boolean } = {}): string {
  const proj = collection("acme/x", [p]).projections[0]!;
  const m = d.mapType(proj, flatType(proj, role.isKey ?? false), { isKey: role.isKey ?? false, isDocument: role.isDocument ?? false });
  return isForbidden(m) ? `forbidden: ${m.forbidden}` : `${m.ddl}${m.notNull ? " NOT NULL" : ""} (${m.encoding})`;
}

describe("mysqlDialect.mapType", () => {
  it("chooses the narrowest exact integer column for the inferred range", () => {
    expect(map({ field: "i", types: ["integer"] })).toBe("BIGINT (verbatim)");
    expect(map({ field: "i", types: ["integer"], minimum: 0, maximum: 18446744073709551615 })).toBe("BIGINT UNSIGNED (verbatim)");
    expect(map({ field: "i", types: ["integer"], maximum: 18446744073709551615 })).toBe("DECIMAL(65,0) (verbatim)");
    expect(map({ field: "i", types: ["integer"], minimum: -1e30 })).toBe("DECIMAL(65,0) (verbatim)");
  });

  it("maps strings by format and role", () => {
    expect(map({ field: "s", types: ["string"] })).toBe("LONGTEXT (string)");
    expect(map({ field: "s", types: ["string"], key: true }, { isKey: true })).toBe("VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL (string)");
    expect(map({ field: "s", types: ["string"], format: "date-time", must: true })).toBe("DATETIME(6) NOT NULL (datetime_utc)");
    expect(map({ field: "s", types: ["string"], format: "number" })).toBe("DECIMAL(65,30) (string)");
    expect(map({ field: "s", types: ["string"], contentEncoding: "base64" })).toBe("LONGBLOB (base64)");
    expect(map({ field: "b", types: ["boolean"] })).toBe("BOOLEAN (boolean_digit)");
    expect(map({ field: "o", types: ["object"] })).toBe("JSON (verbatim)");
    expect(map({ field: "o", types: ["object"], key: true }, { isKey: true })).toMatch(/^forbidden: MySQL cannot index a JSON column/);
    expect(map({ field: "fish🐟", types: ["string"] })).toMatch(/^forbidden: .*Basic Multilingual Plane/);
  });

  it("migrates in place only what MODIFY COLUMN converts without loss", () => {
    const to = (ddl: string) => ({ ddl }) as MappedType;
    expect(d.migration("bigint", to("DOUBLE"), "`c`")).toBe("");
    expect(d.migration("bigint unsigned", to("DECIMAL(65,0)"), "`c`")).toBe("");
    expect(d.migration("datetime", to("LONGTEXT"), "`c`")).toBe("");
    expect(d.migration("longtext", to("BIGINT"), "`c`")).toBeUndefined();
    expect(d.migration("double", to("BIGINT"), "`c`")).toBeUndefined();
  });
});
