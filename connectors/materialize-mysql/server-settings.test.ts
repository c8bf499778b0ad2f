/**
 * A throwaway MariaDB configured against us: sql_mode with ANSI_QUOTES,
 * NO_BACKSLASH_ESCAPES and PIPES_AS_CONCAT, lower_case_table_names=1, a
 * non-UTC time zone, and local_infile switched off and on. The connector
 * must store exactly the same values, find tables whatever their case, and
 * refuse with the fix when LOAD DATA LOCAL is off.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMariaDb, type MariaDbServer } from "../../test/support/mariadb-server.js";
import type { MaterializeValidate } from "../../src/sdk/types.js";
import { collection, ROOT } from "../../src/sql/test-fixtures.js";
import connector from "./connector.js";
import type { EndpointConfig } from "./config.js";
import { applyRequest, checkpoint, ctx, materialization, openRequest, transaction, type BindingDesc } from "./test-support.js";

let srv: MariaDbServer;
const database = "hostile";
const config = (): EndpointConfig => ({ address: `${srv.host}:${srv.port}`, user: srv.user, database, advanced: { sslmode: "disabled" } });

beforeAll(async () => {
  srv = await startMariaDb({ args: ["--sql-mode=ANSI_QUOTES,NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT,ONLY_FULL_GROUP_BY", "--lower-case-table-names=1"] });
  await srv.createDatabase(database);
}, 120_000);
afterAll(async () => {
  await srv?.stop();
});

const coll = collection("acme/odd", [
  { field: "key", types: ["string"], key: true },
  { field: "Text Value", types: ["string"] },
  { field: "at", types: ["string"], format: "date-time" },
  ROOT,
]);
const binding = (table: string): BindingDesc => ({ resource: { table }, collection: coll, keys: ["key"], values: ["Text Value", "at"], document: "flow_document" });
const validateRequest = (bindings: BindingDesc[]): MaterializeValidate<any, any> => ({
  name: "acme/mat",
  config: config(),
  bindings: bindings.map((b) => ({ resourceConfig: b.resource, collection: b.collection, fieldConfig: {}, backfill: 0, groupBy: [] })),
  request: {} as never,
});

describe("materialize-mysql under hostile server settings", () => {
  it("stores quotes, backslashes and \\N byte for byte, in UTC, under ANSI_QUOTES and NO_BACKSLASH_ESCAPES", async () => {
    expect((await srv.query("SELECT @@global.sql_mode AS m"))[0].m).toMatch(/ANSI_QUOTES.*NO_BACKSLASH_ESCAPES/);
    const spec = materialization("acme/mat", config(), [binding("Odd`Table")]);
    await connector.apply(applyRequest(spec), ctx());
    const { transactor } = await connector.open(openRequest(spec), ctx());
    const values = ["it's \"quoted\" \\ back\\slash", "\\N", "a||b", "'; DROP TABLE x; --"];
    await transaction(transactor, {
      stores: values.map((v, i) => ({
        keyJson: JSON.stringify([`k'${i}\\`]),
        valuesJson: JSON.stringify([v, "2024-05-01T10:00:00+02:00"]),
        docJson: JSON.stringify({ key: `k'${i}\\`, v }),
      })),
      checkpoint: checkpoint(1),
    });
    const loaded = await transaction(transactor, { loads: [{ keyJson: JSON.stringify(["k'0\\"]) }], checkpoint: checkpoint(2) });
    expect(loaded.map(([, d]) => JSON.parse(d))).toEqual([{ key: "k'0\\", v: values[0] }]);
    await transactor.destroy!();
    const rows = await srv.query("SELECT `key` AS k, `Text Value` AS v, CAST(`at` AS CHAR) AS at FROM `hostile`.`odd``table` ORDER BY `key`");
    expect(rows).toEqual(values.map((v, i) => ({ k: `k'${i}\\`, v, at: "2024-05-01 08:00:00.000000" })));
  });

  it("finds a table whatever its case under lower_case_table_names=1, and refuses two bindings on one table", async () => {
    const spec = materialization("acme/mat", config(), [binding("MixedCase")]);
    expect((await connector.apply(applyRequest(spec), ctx())).actionDescription).toContain("CREATE TABLE IF NOT EXISTS `MixedCase`");
    expect(await srv.query("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'hostile' AND table_name LIKE 'mixed%'")).toEqual([{ t: "mixedcase" }]);
    // The same table spelled as first configured: nothing to do.
    expect((await connector.apply(applyRequest(spec, spec), ctx())).actionDescription).toBe("");
    await expect(connector.validate(validateRequest([binding("Things"), binding("things")]), ctx())).rejects.toThrow(
      /tables "Things" and "things" are the same table on this server \(lower_case_table_names=1/,
    );
  });

  it("refuses with the fix when the server does not accept LOAD DATA LOCAL INFILE", async () => {
    await srv.query("SET GLOBAL local_infile = 0");
    try {
      await expect(connector.validate(validateRequest([binding("things")]), ctx())).rejects.toThrow(/local_infile is OFF.*SET GLOBAL local_infile = 1/);
    } finally {
      await srv.query("SET GLOBAL local_infile = 1");
    }
    await expect(connector.validate(validateRequest([binding("things")]), ctx())).resolves.toHaveLength(1);
  });
});
