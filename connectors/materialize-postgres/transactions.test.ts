/** Loads and Stores against a real PostgreSQL: table contents are compared row by row. */
import { describe, expect, it } from "vitest";
import { ZERO_CHECKPOINT } from "../../src/sdk/types.js";
import { collection, ROOT } from "../../src/sql/test-fixtures.js";
import connector from "./connector.js";
import {
 
  applyRequest,
  checkpoint,
  ctx,
  endpointConfig,
  materialization,
  openRequest,
  readThrough,
  transaction,
  type BindingDesc,
} from "./test-support.js";
import { w, widgetBinding as sharedWidgetBinding } from "../../test/support/materialize-driver.js";
import { testSchemas } from "./test-schemas.js";

const db = testSchemas("mpg");


const widgetBinding = (extra: Partial<BindingDesc> = {}): BindingDesc => sharedWidgetBinding(extra);

async function rows(sql: string) {
  return (await db.admin.query(sql)).rows;
}

describe("materialize-postgres transactions", () => {
  it("creates, updates and soft-deletes in one transaction, loads what it stored, and recovers its checkpoint", async () => {
    const schema = db.fresh();
    const spec = materialization("acme/mat", endpointConfig(schema), [widgetBinding()]);
    await connector.apply(applyRequest(spec), ctx());

    const first = await connector.open(openRequest(spec), ctx());
    expect(first.runtimeCheckpoint).toBe(ZERO_CHECKPOINT);
    const t = first.transactor;
    await transaction(t, { stores: [w(1, "one"), w(2, "two"), w(3, "three")], checkpoint: checkpoint(10) });

    const loaded = await transaction(t, {
      loads: [{ keyJson: "[1]" }, { keyJson: "[2]" }, { keyJson: "[99]" }],
      stores: [
        { ...w(1, "uno"), exists: true },
        { ...w(2, "two", "d"), exists: true, delete: true },
        w(4, "four"),
        { ...w(5, "five", "d"), delete: true },
      ],
      checkpoint: checkpoint(20),
    });
    expect(loaded.sort()).toEqual([
      [0, JSON.stringify({ id: 1, name: "one", _meta: { op: "c" } })],
      [0, JSON.stringify({ id: 2, name: "two", _meta: { op: "c" } })],
    ]);
    expect(await rows(`SELECT id, name, "_meta/op" AS op FROM "${schema}".widgets ORDER BY id`)).toEqual([
      { id: "1", name: "uno", op: "c" },
      { id: "2", name: "two", op: "d" },
      { id: "3", name: "three", op: "c" },
      { id: "4", name: "four", op: "c" },
      { id: "5", name: "five", op: "d" },
    ]);
    await t.destroy!();

    const again = await connector.open(openRequest(spec), ctx());
    expect(readThrough(again.runtimeCheckpoint)).toBe(20);
    await again.transactor.destroy!();
  });

  it("removes rows on delete when hardDelete is set, and skips deletes of unknown keys", async () => {
    const schema = db.fresh();
    const spec = materialization("acme/mat", endpointConfig(schema, { hardDelete: true }), [widgetBinding()]);
    await connector.apply(applyRequest(spec), ctx());
    const { transactor: t } = await connector.open(openRequest(spec), ctx());
    await transaction(t, { stores: [w(1, "one"), w(2, "two")], checkpoint: checkpoint(1) });
    await transaction(t, {
      stores: [{ ...w(1, "one", "d"), exists: true, delete: true }, { ...w(7, "seven", "d"), delete: true }, w(3, "three")],
      checkpoint: checkpoint(2),
    });
    expect(await rows(`SELECT id FROM "${schema}".widgets ORDER BY id`)).toEqual([{ id: "2" }, { id: "3" }]);
    await t.destroy!();
  });

  it("merges rows the runtime calls new into a table it did not create, and recovers from a clash in its own table", async () => {
    const schema = db.fresh();
    const spec = materialization("acme/mat", endpointConfig(schema), [widgetBinding()]);
    await db.admin.query(`CREATE SCHEMA "${schema}"`);
    await db.admin.query(`CREATE TABLE "${schema}".widgets (id BIGINT PRIMARY KEY, name TEXT, "_meta/op" TEXT, flow_document JSON NOT NULL)`);
    await db.admin.query(`INSERT INTO "${schema}".widgets VALUES (1, 'foreign', NULL, '{}')`);
    await connector.apply(applyRequest(spec), ctx());
    const opened = await connector.open(openRequest(spec), ctx());
    expect(opened.disableLoadOptimization).toBe(true);
    let t = opened.transactor;
    await transaction(t, { stores: [w(1, "one"), w(2, "two")], checkpoint: checkpoint(1) });
    expect(await rows(`SELECT id, name FROM "${schema}".widgets ORDER BY id`)).toEqual([
      { id: "1", name: "one" },
      { id: "2", name: "two" },
    ]);
    await t.destroy!();

    // A table this connector created takes new rows by plain COPY. A foreign
    // row clashes: nothing commits, and the next session merges instead.
    const own = db.fresh();
    const spec2 = materialization("acme/mat", endpointConfig(own), [widgetBinding()]);
    await connector.apply(applyRequest(spec2), ctx());
    await db.admin.query(`INSERT INTO "${own}".widgets VALUES (1, 'foreign', NULL, '{}')`);
    const own2 = await connector.open(openRequest(spec2), ctx());
    expect(own2.disableLoadOptimization).toBe(false);
    t = own2.transactor;
    await expect(transaction(t, { stores: [w(1, "one"), w(2, "two")], checkpoint: checkpoint(1) })).rejects.toThrow(
      /reported the row as new, but the table already holds it. Nothing was committed; .*widgets will merge every row from the next session on/,
    );
    await t.destroy!();
    expect(await rows(`SELECT name FROM "${own}".widgets`)).toEqual([{ name: "foreign" }]);
    const retry = await connector.open(openRequest(spec2), ctx());
    expect(retry.disableLoadOptimization).toBe(true);
    t = retry.transactor;
    await transaction(t, { stores: [w(1, "one")], checkpoint: checkpoint(1) });
    await transaction(t, { stores: [w(1, "one")], checkpoint: checkpoint(1) });
    expect(await rows(`SELECT name FROM "${own}".widgets`)).toEqual([{ name: "one" }]);
    await t.destroy!();
  });

  it("appends every store of a delta-updates binding", async () => {
    const schema = db.fresh();
    const spec = materialization("acme/mat", endpointConfig(schema), [widgetBinding({ resource: { table: "events", delta_updates: true } })]);
    await connector.apply(applyRequest(spec), ctx());
    const { transactor: t } = await connector.open(openRequest(spec), ctx());
    await transaction(t, { stores: [w(1, "a"), w(1, "b")], checkpoint: checkpoint(1) });
    await transaction(t, { stores: [w(1, "c")], checkpoint: checkpoint(2) });
    expect(await rows(`SELECT id, name FROM "${schema}".events ORDER BY name`)).toEqual([
      { id: "1", name: "a" },
      { id: "1", name: "b" },
      { id: "1", name: "c" },
    ]);
    const pk = await rows(`SELECT 1 FROM information_schema.table_constraints WHERE table_schema = '${schema}' AND table_name = 'events' AND constraint_type = 'PRIMARY KEY'`);
    expect(pk).toEqual([]);
    await t.destroy!();
  });

  it("writes every mapped type exactly, including big integers, decimals, offsets, unicode and bytes", async () => {
    const schema = db.fresh();
    const coll = collection("acme/types", [
      { field: "id", types: ["string"], key: true },
      { field: "big", types: ["integer"], maximum: 1e30 },
      { field: "int", types: ["integer"] },
      { field: "num", types: ["number"] },
      { field: "flag", types: ["boolean"] },
      { field: "text", types: ["string"] },
      { field: "day", types: ["string"], format: "date" },
      { field: "ts", types: ["string"], format: "date-time" },
      { field: "clock", types: ["string"], format: "time" },
      { field: "uid", types: ["string"], format: "uuid" },
      { field: "span", types: ["string"], format: "duration" },
      { field: "ip", types: ["string"], format: "ipv6" },
      { field: "mac", types: ["string"], format: "macaddr" },
      { field: "dec", types: ["string"], format: "number" },
      { field: "strint", types: ["string"], format: "integer" },
      { field: "bytes", types: ["string"], contentEncoding: "base64" },
      { field: "obj", types: ["object"] },
      { field: "arr", types: ["array"] },
      { field: "multi", types: ["string", "integer"] },
      ROOT,
    ]);
    const values = coll.projections.map((p) => p.field).filter((f) => f !== "id" && f !== "flow_document");
    const spec = materialization("acme/mat", endpointConfig(schema), [
      { resource: { table: "types" }, collection: coll, keys: ["id"], values, document: "flow_document" },
    ]);
    await connector.apply(applyRequest(spec), ctx());
    const { transactor: t } = await connector.open(openRequest(spec), ctx());

    const full =
      '[123456789012345678901234567890,-9223372036854775808,0.1,true,"héllo 🐟 \\"q\\"\\ttab\\\\slash\\nline\\u0000nul",' +
      '"2024-02-29","2024-01-02T03:04:05.123456+05:30","13:14:15","5f0c3e2a-0b8f-4d5e-9a36-3f4d6b1c2a10","P1DT2H",' +
      '"2001:db8::1","08:00:2b:01:02:03","12345678901234567890.12345678901234567890","-98765432109876543210","aGVsbG8=",' +
      '{"a":[1,{"b":null}]},[1,"x",18446744073709551617],"text"]';
    const doc = '{"id":"full","big":123456789012345678901234567890}';
    const nulls = "[" + values.map(() => "null").join(",") + "]";
    await transaction(t, {
      stores: [
        { keyJson: '["full"]', valuesJson: full, docJson: doc },
        { keyJson: '["nulls"]', valuesJson: nulls, docJson: '{"id":"nulls"}' },
        { keyJson: '["multi-int"]', valuesJson: nulls.replace(/null\]$/, "42]"), docJson: '{"id":"multi-int","multi":42}' },
      ],
      checkpoint: checkpoint(1),
    });
    const [r] = await rows(
      `SELECT big::text, int::text, num, flag, text, day::text, (ts AT TIME ZONE 'UTC')::text AS ts, clock::text, uid::text, span::text,
              host(ip) AS ip, mac::text, dec::text, strint::text, encode(bytes, 'escape') AS bytes, obj::text, arr::text, multi::text,
              flow_document::text AS doc
         FROM "${schema}".types WHERE id = 'full'`,
    );
    expect(r).toEqual({
      big: "123456789012345678901234567890",
      int: "-9223372036854775808",
      num: 0.1,
      flag: true,
      text: 'héllo 🐟 "q"\ttab\\slash\nlinenul',
      day: "2024-02-29",
      ts: "2024-01-01 21:34:05.123456",
      clock: "13:14:15",
      uid: "5f0c3e2a-0b8f-4d5e-9a36-3f4d6b1c2a10",
      span: "1 day 02:00:00",
      ip: "2001:db8::1",
      mac: "08:00:2b:01:02:03",
      dec: "12345678901234567890.12345678901234567890",
      strint: "-98765432109876543210",
      bytes: "hello",
      obj: '{"a":[1,{"b":null}]}',
      arr: '[1,"x",18446744073709551617]',
      multi: '"text"',
      doc,
    });
    const nullRow = (await rows(`SELECT * FROM "${schema}".types WHERE id = 'nulls'`))[0];
    for (const f of values) expect(nullRow[f]).toBeNull();
    expect((await rows(`SELECT multi::text FROM "${schema}".types WHERE id = 'multi-int'`))[0].multi).toBe("42");

    // Loaded documents come back verbatim, big numbers included.
    const loaded = await transaction(t, { loads: [{ keyJson: '["full"]' }], checkpoint: checkpoint(2) });
    expect(loaded).toEqual([[0, doc]]);
    await t.destroy!();
  });

  it("handles names with spaces, quotes, $, emoji, capitals, leading digits, keywords and over-long names", async () => {
    const schema = db.fresh();
    const long = "a_really_long_field_name_that_goes_on_and_on_beyond_the_limit_of_postgres";
    const fields = ["Key Field", 'say "hi"', "cost$", "🐟 fish", "CamelCase", "1st", "select", long];
    const coll = collection("acme/names", [
      ...fields.map((f, i) => ({ field: f, ptr: `/f${i}`, types: i === 0 ? ["string"] : ["string"], key: i === 0 })),
      ROOT,
    ]);
    const spec = materialization("acme/mat", endpointConfig(schema), [
      { resource: { table: "Tricky Table!" }, collection: coll, keys: [fields[0]!], values: fields.slice(1), document: "flow_document" },
    ]);
    const applied = await connector.apply(applyRequest(spec), ctx());
    expect(applied.actionDescription).toContain(`${schema}."Tricky Table!"`);
    const { transactor: t } = await connector.open(openRequest(spec), ctx());
    await transaction(t, {
      stores: [{ keyJson: '["k1"]', valuesJson: JSON.stringify(fields.slice(1).map((_, i) => `v${i}`)), docJson: '{"f0":"k1"}' }],
      checkpoint: checkpoint(1),
    });
    const loaded = await transaction(t, { loads: [{ keyJson: '["k1"]' }], checkpoint: checkpoint(2) });
    expect(loaded).toEqual([[0, '{"f0":"k1"}']]);
    const cols = await rows(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = '${schema}' AND table_name = 'Tricky Table!' ORDER BY ordinal_position`,
    );
    expect(cols.map((c) => c.column_name)).toEqual([...fields.slice(0, -1), long.slice(0, 63), "flow_document"]);
    const [row] = await rows(`SELECT * FROM "${schema}"."Tricky Table!"`);
    expect(row['say "hi"']).toBe("v0");
    expect(row[long.slice(0, 63)]).toBe("v6");
    await t.destroy!();
  });

  it("loads composite keys holding quotes, backslashes, braces, commas, NULL-like text, control characters and unicode", async () => {
    const schema = db.fresh();
    const coll = collection("acme/composite", [
      { field: "k", types: ["string"], key: true },
      { field: "n", types: ["integer"], key: true },
      { field: "d", types: ["string"], format: "date", key: true },
      { field: "v", types: ["string"] },
      ROOT,
    ]);
    const spec = materialization("acme/mat", endpointConfig(schema), [
      { resource: { table: "composite" }, collection: coll, keys: ["k", "n", "d"], values: ["v"], document: "flow_document" },
    ]);
    await connector.apply(applyRequest(spec), ctx());
    const { transactor: t } = await connector.open(openRequest(spec), ctx());
    const texts = [`it's "quoted" \\ back, {brace}`, "NULL", "", "tab\ttab new\nline 🐟 é", "a'); DROP TABLE x; --", '\\"}{,'];
    const keys = texts.map((k, i) => JSON.stringify([k, i === 3 ? "-9223372036854775807" : i, `2024-01-0${i + 1}`]).replace(/"(-\d+)"/, "$1"));
    const stores = keys.map((keyJson, i) => ({ keyJson, valuesJson: JSON.stringify([`v${i}`]), docJson: JSON.stringify({ k: texts[i], i }) }));
    await transaction(t, { stores, checkpoint: checkpoint(1) });
    const loaded = await transaction(t, {
      loads: [...keys, '["NULL",2,"2024-01-02"]', '["NULL",null,"2024-01-02"]', '["missing",0,"2024-01-01"]'].map((keyJson) => ({ keyJson })),
      checkpoint: checkpoint(2),
    });
    expect(loaded.map(([b, doc]) => [b, JSON.parse(doc).i]).sort()).toEqual(texts.map((_, i) => [0, i]));
    expect(loaded.map(([, doc]) => JSON.parse(doc).k).sort()).toEqual([...texts].sort());
    await t.destroy!();
  });

  it("answers many Loads of two bindings in several chunks, each key once, with its exact document", async () => {
    const schema = db.fresh();
    const spec = materialization("acme/mat", endpointConfig(schema), [widgetBinding(), widgetBinding({ resource: { table: "gadgets" } })]);
    await connector.apply(applyRequest(spec), ctx());
    const { transactor: t } = await connector.open(openRequest(spec), ctx());
    const n = 6000;
    const ids = Array.from({ length: n }, (_, i) => i + 1);
    await transaction(t, {
      stores: ids.flatMap((id) => [w(id, `w${id}`), ...(id % 3 === 0 ? [{ ...w(id, `g${id}`), binding: 1 }] : [])]),
      checkpoint: checkpoint(1),
    });
    const loads = ids.flatMap((id) => [{ keyJson: `[${id}]` }, { binding: 1, keyJson: `[${id}]` }, { keyJson: `[${id + n}]` }]);
    const loaded = await transaction(t, { loads, checkpoint: checkpoint(2) });
    const expected = ids.flatMap((id) => [
      [0, JSON.stringify({ id, name: `w${id}`, _meta: { op: "c" } })],
      ...(id % 3 === 0 ? [[1, JSON.stringify({ id, name: `g${id}`, _meta: { op: "c" } })]] : []),
    ]);
    expect(loaded.length).toBe(expected.length);
    expect([...loaded].sort()).toEqual([...expected].sort());
    await t.destroy!();
  });

  it("keeps nothing of a transaction whose document violates a column type", async () => {
    const schema = db.fresh();
    const coll = collection("acme/dated", [{ field: "id", types: ["integer"], key: true }, { field: "day", types: ["string"], format: "date" }, ROOT]);
    const spec = materialization("acme/mat", endpointConfig(schema), [
      { resource: { table: "dated" }, collection: coll, keys: ["id"], values: ["day"], document: "flow_document" },
    ]);
    await connector.apply(applyRequest(spec), ctx());
    const { transactor: t } = await connector.open(openRequest(spec), ctx());
    await transaction(t, { stores: [{ keyJson: "[1]", valuesJson: '["2024-01-01"]', docJson: "{}" }], checkpoint: checkpoint(1) });
    const bad = transaction(t, {
      stores: [
        { keyJson: "[2]", valuesJson: '["2024-01-02"]', docJson: "{}" },
        { keyJson: "[3]", valuesJson: '["not a date"]', docJson: "{}" },
      ],
      checkpoint: checkpoint(2),
    });
    const message = await bad.then(() => "", (e: Error) => e.message);
    expect(message).toContain(`storing documents: invalid input syntax for type date: <value> (binding 0 (table ${schema}.dated), row 2 of a staged batch, column day)`);
    expect(message).not.toContain("not a date");
    expect(await rows(`SELECT id FROM "${schema}".dated ORDER BY id`)).toEqual([{ id: "1" }]);
    await t.destroy!();
    const again = await connector.open(openRequest(spec), ctx());
    expect(readThrough(again.runtimeCheckpoint)).toBe(1);
    await again.transactor.destroy!();
  });
});
