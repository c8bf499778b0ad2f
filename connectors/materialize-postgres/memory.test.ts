/**
 * One transaction about as large as the whole connector process, through
 * `tributary run materialize-postgres` over stdio: the Stores are streamed
 * into PostgreSQL (COPY), so the connector's peak RSS stays flat while the
 * transaction holds more documents than the whole process needs otherwise.
 */
import { afterAll, expect, it } from "vitest";
import pg from "pg";
import { collection, ROOT } from "../../src/sql/test-fixtures.js";
import { frame, MaterializeDriver } from "../../test/bench/_materialize-driver.js";
import { peakRssMb } from "../../test/bench/_measure.js";
import { checkpoint, endpointConfig, materialization, PG_URL, uniqueSchema } from "./test-support.js";

const DOCS = Number(process.env.BIG_TXN_DOCS ?? 24_000);
const PAD = "x".repeat(5000);
const schema = uniqueSchema("bigtxn");
const admin = new pg.Client({ connectionString: PG_URL });

afterAll(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
  await admin.end();
});

it("stores a single transaction of ~120 MB of documents with flat memory, every row committed", async () => {
  await admin.connect();
  const coll = collection("acme/big", [{ field: "id", types: ["integer"], key: true }, { field: "note", types: ["string"], must: true }, ROOT]);
  const spec = materialization("acme/big", endpointConfig(schema), [{ resource: { table: "big" }, collection: coll, keys: ["id"], values: ["note"], document: "flow_document" }]);
  const d = new MaterializeDriver("materialize-postgres");
  const enc = new TextEncoder();
  await d.send(frame({ apply: { materialization: spec, version: "v1" } as never }));
  await d.next("applied");
  await d.send(frame({ open: { materialization: spec, version: "v1", range: { keyBegin: 0, keyEnd: 0xffffffff, rClockBegin: 0, rClockEnd: 0xffffffff } } as never }));
  await d.next("opened");
  await d.send(frame({ acknowledge: {} as never }));
  await d.next("acknowledged");
  await d.send(frame({ flush: {} as never }));
  await d.next("flushed");

  let bytes = 0;
  // Frames are made batch by batch, so the test itself does not hold the transaction either.
  for (let from = 1; from <= DOCS; from += 2000) {
    const batch: Buffer[] = [];
    for (let id = from; id < Math.min(from + 2000, DOCS + 1); id++) {
      const note = `${id} ${PAD}`;
      const doc = JSON.stringify({ id, note });
      bytes += doc.length;
      batch.push(frame({ store: { binding: 0, keyJson: enc.encode(`[${id}]`), valuesJson: enc.encode(JSON.stringify([note])), docJson: enc.encode(doc) } as never }));
    }
    await d.sendAll(batch);
  }
  await d.send(frame({ startCommit: { runtimeCheckpoint: checkpoint(1) } as never }));
  await d.next("startedCommit");
  const peak = peakRssMb(d.pid);
  await d.send(frame({ acknowledge: {} as never }));
  await d.next("acknowledged");
  expect(await d.close()).toBe(0);

  expect(bytes).toBeGreaterThan(DOCS * 5000);
  const [{ n, last }] = (await admin.query(`SELECT count(*)::int AS n, max(id)::int AS last FROM ${schema}.big`)).rows;
  expect({ n, last }).toEqual({ n: DOCS, last: DOCS });
  // The process needs ~130 MB anyway; buffering the transaction (~120 MB of
  // documents, more as JS strings) on top of that would pass 200 MB.
  expect(peak).toBeLessThan(200);
}, 240_000);
