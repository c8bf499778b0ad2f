/**
 * Every existing column type against every type a field can map to, on a
 * real PostgreSQL: whenever Validate accepts a field into an existing column
 * (as is, or by a migration Apply performs), the column must then take
 * every sample value of the field's type through the connector's own COPY
 * encoding, and hold it as exactly as a freshly created column would.
 * Accepting a pair the column cannot hold turns into failures at Store
 * (or silent rounding), which is what this table guards against.
 */
import { describe, expect, it } from "vitest";
import { ConstraintType } from "../../src/sdk/types.js";
import { planTable } from "../../src/sql/apply-plan.js";
import { buildTable } from "../../src/sql/table.js";
import { collection, type ProjectionDesc } from "../../src/sql/test-fixtures.js";
import { validateBinding } from "../../src/sql/validate.js";
import { copyUnescape, encodeField, NULL_FIELD } from "./copy-text.js";
import { pgDdl, pgDialect } from "./dialect.js";
import { readInfoSchema } from "./introspect.js";
import { testSchemas } from "./test-schemas.js";

const db = testSchemas("pairs");

const EXISTING = [
  "smallint", "integer", "bigint", "numeric", "numeric(10,2)", "real", "double precision", "boolean",
  "text", "character varying", "character varying(8)", "character(8)", "uuid",
  "date", "timestamp with time zone", "timestamp(0) with time zone", "timestamp without time zone",
  "time without time zone", "time(0) without time zone", "time with time zone", "interval", "interval(0)",
  "inet", "cidr", "macaddr", "macaddr8", "bytea", "json", "jsonb", "text[]",
];

const s = (v: string) => JSON.stringify(v);
/** A field's type and values of that type, as JSON text the runtime would send. */
const FIELDS: Array<{ name: string; field: Omit<ProjectionDesc, "field">; samples: string[] }> = [
  { name: "integer", field: { types: ["integer"] }, samples: ["0", "-9223372036854775808", "9223372036854775807"] },
  { name: "big integer", field: { types: ["integer"], maximum: 1e20 }, samples: ["100000000000000000000", "-5"] },
  { name: "number", field: { types: ["number"] }, samples: ["1.5", "-0.25", "1e300", "3"] },
  { name: "boolean", field: { types: ["boolean"] }, samples: ["true", "false"] },
  { name: "string", field: { types: ["string"] }, samples: [s("not-a-uuid"), s(""), s("x".repeat(40)), s("12:00")] },
  { name: "uuid", field: { types: ["string"], format: "uuid" }, samples: [s("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11")] },
  { name: "date", field: { types: ["string"], format: "date" }, samples: [s("2024-02-29")] },
  { name: "date-time", field: { types: ["string"], format: "date-time" }, samples: [s("2024-01-01T12:34:56.123456Z"), s("2024-06-30T23:59:59.5+02:00")] },
  { name: "time", field: { types: ["string"], format: "time" }, samples: [s("12:34:56.5Z")] },
  { name: "duration", field: { types: ["string"], format: "duration" }, samples: [s("P1DT2H3M4.5S")] },
  { name: "ipv4", field: { types: ["string"], format: "ipv4" }, samples: [s("192.168.1.5")] },
  { name: "ipv6", field: { types: ["string"], format: "ipv6" }, samples: [s("2001:db8::1")] },
  { name: "macaddr", field: { types: ["string"], format: "macaddr" }, samples: [s("08:00:2b:01:02:03")] },
  { name: "macaddr8", field: { types: ["string"], format: "macaddr8" }, samples: [s("08:00:2b:01:02:03:04:05")] },
  { name: "integer string", field: { types: ["string"], format: "integer" }, samples: [s("123456789012345678901234567890")] },
  { name: "number string", field: { types: ["string", "number"], format: "number" }, samples: [s("1.125"), "2.5"] },
  { name: "base64", field: { types: ["string"], contentEncoding: "base64" }, samples: [s("aGVsbG8=")] },
  { name: "object", field: { types: ["object"] }, samples: ['{"a":1,"b":[true,null]}'] },
  { name: "array", field: { types: ["array"] }, samples: ['[1,"x"]'] },
  { name: "string or integer", field: { types: ["string", "integer"] }, samples: [s("x"), "5"] },
];

interface Verdict {
  accepted: boolean;
  statements: string[];
  /** Why an accepted pair is unsound, if it is. */
  unsound?: string;
}

describe("existing column × field type", () => {
  it("accepts only pairs whose column then holds every value of the field's type", async () => {
    const schema = db.fresh();
    const c = db.admin;
    await c.query(`CREATE SCHEMA ${schema}`);
    const verdicts = new Map<string, Verdict>();
    for (const [ti, type] of EXISTING.entries()) {
      const table = `t${ti}`;
      await c.query(`CREATE TABLE ${schema}.${table} (id bigint PRIMARY KEY, c ${type})`);
      const existing = (await readInfoSchema(c, [schema])).table([schema, table])!;
      for (const f of FIELDS) {
        const coll = collection("acme/pairs", [{ field: "id", types: ["integer"], key: true }, { field: "c", ...f.field }]);
        const con = validateBinding({ collection: coll, deltaUpdates: false, existing, backfill: 0, tableName: table }, pgDialect).c!;
        const accepted = con.type !== ConstraintType.INCOMPATIBLE && con.type !== ConstraintType.FIELD_FORBIDDEN;
        const verdict: Verdict = { accepted, statements: [] };
        verdicts.set(`${type} <- ${f.name}`, verdict);
        if (!accepted) continue;
        const built = buildTable({ path: [schema, table], collection: coll, keys: ["id"], values: ["c"], document: "", deltaUpdates: false }, pgDialect);
        const col = built.values[0]!;
        verdict.statements = planTable({ table: built, existing, backfill: 0 }, pgDialect, pgDdl);
        await c.query("BEGIN");
        try {
          for (const sql of verdict.statements) await c.query(sql);
          await c.query(`ALTER TABLE ${schema}.${table} ADD COLUMN fresh ${col.mapped.ddl}`);
          for (const [i, token] of f.samples.entries()) {
            const field = encodeField(token, col.mapped.encoding);
            const value = field === NULL_FIELD ? null : copyUnescape(field);
            await c.query("SAVEPOINT v");
            try {
              await c.query(`INSERT INTO ${schema}.${table} (id, c, fresh) VALUES ($1, $2, $3)`, [i, value, value]);
              const same = await c.query(`SELECT to_jsonb(c::${col.mapped.ddl}) IS NOT DISTINCT FROM to_jsonb(fresh) AS same, c::text AS held, fresh::text AS want FROM ${schema}.${table} WHERE id = $1`, [i]);
              const r = same.rows[0];
              if (!r.same) verdict.unsound ??= `${token} is held as ${r.held}, a new column holds ${r.want}`;
            } catch (err) {
              verdict.unsound ??= `${token} is refused: ${(err as Error).message}`;
            }
            await c.query("RELEASE SAVEPOINT v");
          }
        } catch (err) {
          verdict.unsound ??= `Apply failed: ${(err as Error).message}`;
        } finally {
          await c.query("ROLLBACK");
        }
      }
    }

    const unsound = [...verdicts].filter(([, v]) => v.unsound).map(([k, v]) => `${k}: ${v.unsound}`);
    expect(unsound).toEqual([]);

    const verdict = (pair: string) => verdicts.get(pair)!;
    // The field of the issue: a uuid column whose field became a plain string is migrated to TEXT, then takes any string.
    expect(verdict("uuid <- string").statements).toEqual([`ALTER TABLE ${schema}.t${EXISTING.indexOf("uuid")} ALTER COLUMN c TYPE TEXT USING c::text`]);
    // Constrained columns are widened instead of passing as their unconstrained type.
    for (const [type, field, to] of [
      ["character varying(8)", "string", "TEXT"],
      ["numeric(10,2)", "number string", "NUMERIC"],
      ["timestamp(0) with time zone", "date-time", "TIMESTAMPTZ"],
      ["time(0) without time zone", "time", "TIME"],
      ["interval(0)", "duration", "INTERVAL"],
    ]) {
      expect(verdict(`${type} <- ${field}`).statements.join()).toContain(`TYPE ${to} USING`);
    }
    for (const pair of ["text <- integer", "character(8) <- string", "time with time zone <- string", "double precision <- integer string", "uuid <- integer", "text[] <- string"]) {
      expect(verdict(pair).accepted, pair).toBe(false);
    }
    // Unchanged types need no DDL.
    for (const pair of ["bigint <- integer", "text <- string", "uuid <- uuid", "json <- object", "inet <- ipv6", "cidr <- ipv4", "text <- uuid"]) {
      expect(verdict(pair), pair).toEqual({ accepted: true, statements: [] });
    }
    expect([...verdicts.values()].filter((v) => v.accepted).length).toBeGreaterThan(100);
  }, 120_000);
});
