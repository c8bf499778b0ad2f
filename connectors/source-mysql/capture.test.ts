/**
 * The capture against a throwaway MariaDB: discovery (primary and fallback
 * keys), prerequisites, changes with before-images, key changes, ALTER
 * TABLE while streaming, backfill markers, and a table added later.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMariaDb, type MariaDbServer } from "../../test/support/mariadb-server.js";
import { createLogger } from "../../src/log.js";
import connector from "./connector.js";
import { configFor, MemoryOutput, modeOf, reduceByKey, startCapture } from "./testing.js";

let db: MariaDbServer;
beforeAll(async () => {
  db = await startMariaDb();
}, 120_000);
afterAll(async () => {
  await db?.stop();
});

const ctx = () => ({ log: createLogger({ level: "warn" }), signal: new AbortController().signal });

async function validate(config: Record<string, unknown>, tables: [string, string][]) {
  return connector.validate!(
    {
      name: "test/capture",
      config: config as any,
      bindings: tables.map(([namespace, stream]) => ({ resourceConfig: { namespace, stream }, resourcePath: [namespace, stream], collection: {} as any, backfill: 0, stateKey: "" })),
      request: {} as any,
    },
    ctx(),
  );
}

describe("source-mysql", () => {
  it("discovers tables, marking unique-index keys and keyless tables' row locators as fallback keys", async () => {
    await db.createDatabase("disc");
    await db.query(`USE disc;
      CREATE TABLE pk (a INT, b VARCHAR(10), v TEXT NOT NULL, PRIMARY KEY (b, a)) COMMENT 'with a key';
      CREATE TABLE uq (x INT NOT NULL, y INT NULL, UNIQUE KEY zz (x), UNIQUE KEY aa (y));
      CREATE TABLE nokey (x INT);
      CREATE VIEW vw AS SELECT * FROM pk;`);
    const found = await connector.discover(configFor(db, { databases: ["disc"] }) as any, ctx());
    expect(found.map((b) => b.recommendedName)).toEqual(["disc/nokey", "disc/pk", "disc/uq"]);
    const [nokey, pk, uq] = found;
    expect(pk.key).toEqual(["/b", "/a"]);
    expect(pk.isFallbackKey).toBe(false);
    expect(pk.documentSchema).toMatchObject({ description: "with a key", required: ["b", "a", "_meta"] });
    expect((pk.documentSchema as any).properties.v).toMatchObject({ type: "string", description: "(source type: non-nullable text)" });
    expect((pk.documentSchema as any).properties.a.type).toEqual("integer");
    // The nullable unique index (aa) cannot key rows; zz can, and it is a key we chose.
    expect(uq.key).toEqual(["/x"]);
    expect(uq.isFallbackKey).toBe(true);
    // No usable key: each document is keyed by a locator the capture makes up, which must be present.
    expect(nokey.key).toEqual(["/_meta/source/loc"]);
    expect(nokey.isFallbackKey).toBe(true);
    expect((nokey.documentSchema as any).properties._meta.properties.source.required).toContain("loc");
    expect((uq.documentSchema as any).properties._meta.properties.source.required).not.toContain("loc");
  });

  it("validates prerequisites without changing the server, naming each with its fix", async () => {
    await db.createDatabase("val");
    await db.query(`USE val; CREATE TABLE t (id INT PRIMARY KEY); CREATE TABLE nokey (x INT);
      CREATE USER IF NOT EXISTS 'weak'@'%'; GRANT SELECT ON val.nokey TO 'weak'@'%';
      SET GLOBAL binlog_format = 'MIXED'; SET GLOBAL binlog_row_image = 'MINIMAL'; SET GLOBAL binlog_row_metadata = 'MINIMAL';
      SET GLOBAL binlog_expire_logs_seconds = 3600;`);
    try {
      const err = await validate(configFor(db, { user: "weak" }), [["val", "t"], ["val", "nokey"], ["val", "missing"]]).catch((e) => e as Error);
      const msg = String((err as Error).message);
      expect(msg).toMatch(/binlog_format is MIXED[^\n]*\n  fix: SET GLOBAL binlog_format = 'ROW'/);
      expect(msg).toMatch(/binlog_row_image is MINIMAL[^\n]*\n  fix: SET GLOBAL binlog_row_image = 'FULL'/);
      expect(msg).toMatch(/binlog_row_metadata is MINIMAL[^\n]*\n  fix: SET GLOBAL binlog_row_metadata = 'FULL'/);
      expect(msg).toMatch(/expire after 1 hours[^\n]*\n  fix: SET GLOBAL binlog_expire_logs_seconds = 604800/);
      expect(msg).toContain("lacks REPLICATION SLAVE");
      expect(msg).toContain("fix: GRANT REPLICATION SLAVE ON *.* TO 'weak'@'%';");
      expect(msg).toContain("fix: GRANT REPLICATION CLIENT ON *.* TO 'weak'@'%';");
      expect(msg).toContain("cannot read val.t\n  fix: GRANT SELECT ON `val`.`t` TO 'weak'@'%';");
      // Without privileges the server does not say whether a table exists.
      expect(msg).toContain("cannot read val.missing");
      expect(msg).not.toContain("val.nokey\n  fix: GRANT");
      const serverId = await validate(configFor(db, { server_id: db.serverId }), [["val", "t"]]).catch((e) => e as Error);
      expect(String((serverId as Error).message)).toContain(`replica server id ${db.serverId} is the server's own server_id`);
    } finally {
      await db.query(`SET GLOBAL binlog_format = 'ROW'; SET GLOBAL binlog_row_image = 'FULL'; SET GLOBAL binlog_row_metadata = 'FULL'; SET GLOBAL binlog_expire_logs_seconds = 0`);
    }
    // Nothing was changed by Validate, and a good configuration passes.
    expect(await validate(configFor(db), [["val", "t"]])).toEqual([["val", "t"]]);
    const missing = await validate(configFor(db), [["val", "missing"]]).catch((e) => e as Error);
    expect(String((missing as Error).message)).toContain("table val.missing does not exist\n  fix: create the table, or remove its binding");
  });

  it("streams inserts, updates with before-images, key changes and deletes after a marked backfill", async () => {
    await db.createDatabase("cdc");
    await db.query(`USE cdc; CREATE TABLE t (id BIGINT UNSIGNED PRIMARY KEY, v VARCHAR(20)); INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three');`);
    const out = new MemoryOutput();
    const cap = startCapture(configFor(db, { backfill_chunk_size: 2 }), [{ namespace: "cdc", stream: "t" }], out);
    await out.until(() => modeOf(out.state, "cdc%2Ft") === "active", 30_000, "backfill");
    expect(out.markers.map((m) => m.kind)).toEqual(["begin", "complete"]);
    expect(out.committed.slice(0, out.markers[1].afterDocs).map((d) => d.doc.id)).toEqual([1, 2, 3]);
    await db.query(`USE cdc; INSERT INTO t VALUES (18446744073709551615, 'max');
      UPDATE t SET v = 'uno' WHERE id = 1; UPDATE t SET id = 20 WHERE id = 2; DELETE FROM t WHERE id = 3;`);
    await out.until(() => out.committed.some((d) => d.doc.id === 3 && d.doc._meta.op === "d"), 30_000, "the delete");
    await cap.stop();
    expect(cap.error).toBeUndefined();
    const stream = out.committed.filter((d) => !d.doc._meta.source.snapshot);
    expect(stream.map((d) => [d.doc._meta.op, d.text.match(/^\{"id":(\d+)/)![1]])).toEqual([
      ["c", "18446744073709551615"], ["u", "1"], ["d", "2"], ["c", "20"], ["d", "3"],
    ]);
    expect(stream[1].doc._meta.before).toEqual({ id: 1, v: "one" });
    expect(stream[4].doc).toMatchObject({ id: 3, v: "three" });
    expect(stream[0].doc._meta.source).toMatchObject({ schema: "cdc", table: "t" });
    expect(stream[0].doc._meta.source.cursor).toMatch(/^binlog\.\d+:\d+:0$/);
    expect(stream[0].doc._meta.source.txid).toMatch(/^\d+-\d+-\d+$/);
    expect(out.state.cursor).toMatch(/^binlog\.\d+:\d+$/);
  });

  it("captures a keyless table: every backfilled row and every change is a document of its own, keyed by its locator", async () => {
    await db.createDatabase("keyless");
    // Duplicate rows are what a keyless table may hold, and what no key could tell apart.
    await db.query(`USE keyless; CREATE TABLE log (msg VARCHAR(20), n INT); INSERT INTO log VALUES ('a', 1), ('a', 1), ('b', 2);`);
    const out = new MemoryOutput();
    // A chunk size below the table's size: a keyless table is read in one statement all the same.
    const cap = startCapture(configFor(db, { backfill_chunk_size: 2 }), [{ namespace: "keyless", stream: "log" }], out);
    await out.until(() => modeOf(out.state, "keyless%2Flog") === "active", 30_000, "backfill");
    expect(out.markers.map((m) => m.kind)).toEqual(["begin", "complete"]);
    const backfilled = out.committed.slice(0, out.markers[1].afterDocs);
    expect(backfilled.map((d) => [d.doc.msg, d.doc.n, d.doc._meta.source.loc])).toEqual([["a", 1, "B0"], ["a", 1, "B1"], ["b", 2, "B2"]]);
    expect((out.state as any).bindingStateV1["keyless%2Flog"]).toEqual({ mode: "active", backfilled: 3 });
    await db.query(`USE keyless; INSERT INTO log VALUES ('c', 3); UPDATE log SET n = 10 WHERE msg = 'a'; DELETE FROM log WHERE msg = 'b';`);
    await out.until(() => out.committed.some((d) => d.doc._meta.op === "d"), 30_000, "the delete");
    await cap.stop();
    expect(cap.error).toBeUndefined();
    const stream = out.committed.filter((d) => !d.doc._meta.source.snapshot);
    expect(stream.map((d) => [d.doc._meta.op, d.doc.msg, d.doc.n])).toEqual([["c", "c", 3], ["u", "a", 10], ["u", "a", 10], ["d", "b", 2]]);
    expect(stream[1].doc._meta.before).toEqual({ msg: "a", n: 1 });
    // Each change's locator is its cursor: unique, and the same when a crash makes the capture read it again.
    for (const d of stream) expect(d.doc._meta.source.loc).toBe(d.doc._meta.source.cursor);
    expect(new Set(out.committed.map((d) => d.doc._meta.source.loc)).size).toBe(out.committed.length);
    // The keyless binding validates.
    expect(await validate(configFor(db), [["keyless", "log"]])).toEqual([["keyless", "log"]]);
  });

  it("follows ALTER TABLE while streaming: rows decode with the columns they were written with", async () => {
    await db.createDatabase("ddl");
    await db.query(`USE ddl; CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(5)); INSERT INTO t VALUES (1, 10, 'x');`);
    const out = new MemoryOutput();
    const cap = startCapture(configFor(db), [{ namespace: "ddl", stream: "t" }], out);
    await out.until(() => modeOf(out.state, "ddl%2Ft") === "active", 30_000, "backfill");
    // Changes before and after each ALTER, written in one go so the capture reads them after all ALTERs ran.
    await db.query(`USE ddl; INSERT INTO t VALUES (2, 20, 'y');
      ALTER TABLE t DROP COLUMN a; INSERT INTO t VALUES (3, 'z');
      ALTER TABLE t ADD COLUMN c DECIMAL(5,2) FIRST; INSERT INTO t (id, b, c) VALUES (4, 'w', 1.5);
      ALTER TABLE t MODIFY c BIGINT; INSERT INTO t (id, b, c) VALUES (5, 'v', 7);`);
    await out.until(() => out.committed.some((d) => d.doc.id === 5), 30_000, "rows after the ALTERs");
    await cap.stop();
    expect(cap.error).toBeUndefined();
    const byId = new Map(out.committed.map((d) => [d.doc.id, d.doc]));
    const cols = (doc: any) => Object.fromEntries(Object.entries(doc).filter(([k]) => k !== "_meta"));
    expect(cols(byId.get(2))).toEqual({ id: 2, a: 20, b: "y" });
    expect(cols(byId.get(3))).toEqual({ id: 3, b: "z" });
    expect(cols(byId.get(4))).toEqual({ c: "1.50", id: 4, b: "w" });
    expect(cols(byId.get(5))).toEqual({ c: 7, id: 5, b: "v" });
    // Each new shape was announced before rows of that shape.
    const shapes = out.schemas.filter((s) => s.binding === 0).map((s) => Object.keys((s.schema as any).properties).join(","));
    expect(shapes).toEqual(["id,a,b,_meta", "id,b,_meta", "c,id,b,_meta", "c,id,b,_meta"]);
    expect((out.schemas.at(-2)!.schema as any).properties.c).toEqual({ type: ["string", "null"], format: "number" });
    expect((out.schemas.at(-1)!.schema as any).properties.c.type).toEqual(["integer", "null"]);
  });

  it("backfills a table added later while another keeps streaming", async () => {
    await db.createDatabase("later");
    await db.query(`USE later; CREATE TABLE a (id INT PRIMARY KEY, v INT); CREATE TABLE b (id INT PRIMARY KEY, v INT);
      INSERT INTO b SELECT seq, 0 FROM seq_1_to_3000;`);
    const out = new MemoryOutput();
    let cap = startCapture(configFor(db), [{ namespace: "later", stream: "a" }], out);
    await out.until(() => modeOf(out.state, "later%2Fa") === "active", 30_000, "a's backfill");
    await cap.stop();
    cap = startCapture(configFor(db, { backfill_chunk_size: 100 }), [{ namespace: "later", stream: "a" }, { namespace: "later", stream: "b" }], out);
    await out.until(() => modeOf(out.state, "later%2Fb") === "backfill" && out.committed.some((d) => d.binding === 1), 30_000, "b's backfill to start");
    await db.query(`USE later; INSERT INTO a VALUES (1, 1); UPDATE b SET v = 1 WHERE id IN (1, 2999);`);
    await out.until(() => modeOf(out.state, "later%2Fb") === "active", 60_000, "b's backfill");
    await out.until(() => out.committed.some((d) => d.binding === 0 && d.doc.id === 1), 30_000, "a's insert");
    await cap.stop();
    expect(cap.error).toBeUndefined();
    // a's insert was committed while b was still backfilling.
    const aAt = out.committed.findIndex((d) => d.binding === 0 && d.doc.id === 1);
    const bDone = out.markers.find((m) => m.kind === "complete" && m.binding === 1)!.afterDocs;
    expect(aAt).toBeLessThan(bDone);
    const rows = reduceByKey(out.committed.filter((d) => d.binding === 1), (d) => String(d.id));
    expect(rows.size).toBe(3000);
    expect([rows.get("1").v, rows.get("2").v, rows.get("2999").v]).toEqual([1, 0, 1]);
  });

  it("captures its tables' rows from transactions that also write tables it does not capture (whose rows it does not decode)", async () => {
    await db.createDatabase("mixed");
    await db.createDatabase("mixed_other");
    await db.query(`USE mixed; CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10)); CREATE TABLE u (id INT PRIMARY KEY, w DOUBLE)`);
    await db.query(`USE mixed_other; CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))`);
    const out = new MemoryOutput();
    const cap = startCapture(configFor(db), [{ namespace: "mixed", stream: "t" }], out);
    await out.until(() => modeOf(out.state, "mixed%2Ft") === "active", 30_000, "backfill");
    await db.query(
      `BEGIN; INSERT INTO mixed.u VALUES (1, 1.5); INSERT INTO mixed.t VALUES (1, 'a'); INSERT INTO mixed_other.t VALUES (1, 'x');
       UPDATE mixed.u SET w = 2.5; UPDATE mixed.t SET v = 'b'; COMMIT`,
    );
    await db.query(`INSERT INTO mixed_other.t VALUES (2, 'y'); INSERT INTO mixed.t VALUES (2, 'c')`);
    await out.until(() => out.committed.filter((d) => !d.doc._meta.source.snapshot).length >= 3, 30_000, "the changes");
    await cap.stop();
    expect(cap.error).toBeUndefined();
    const changes = out.committed.filter((d) => !d.doc._meta.source.snapshot).map((d) => ({ op: d.doc._meta.op, id: d.doc.id, v: d.doc.v, table: d.doc._meta.source.table, schema: d.doc._meta.source.schema }));
    expect(changes).toEqual([
      { op: "c", id: 1, v: "a", table: "t", schema: "mixed" },
      { op: "u", id: 1, v: "b", table: "t", schema: "mixed" },
      { op: "c", id: 2, v: "c", table: "t", schema: "mixed" },
    ]);
  });

  it("moves its checkpointed position with writes it does not capture, so an idle binding's position stays fresh", async () => {
    await db.createDatabase("idle");
    await db.query(`USE idle; CREATE TABLE watched (id INT PRIMARY KEY); CREATE TABLE other (id INT PRIMARY KEY)`);
    const out = new MemoryOutput();
    const cap = startCapture(configFor(db, { heartbeat_interval_seconds: 0.2 }), [{ namespace: "idle", stream: "watched" }], out);
    await out.until(() => modeOf(out.state, "idle%2Fwatched") === "active", 30_000, "backfill");
    const before = (out.state as any).cursor;
    await db.query(`INSERT INTO idle.other VALUES (1), (2)`);
    const [{ File, Position }] = await db.query(`SHOW MASTER STATUS`);
    await out.until(() => (out.state as any).cursor === `${File}:${Position}`, 30_000, "the position after the other table's write");
    await cap.stop();
    expect(cap.error).toBeUndefined();
    expect((out.state as any).cursor).not.toBe(before);
    expect(out.committed.filter((d) => !d.doc._meta.source.snapshot)).toEqual([]);
  });

  it("stops with an error naming the binding when a captured table is dropped, and logs a TRUNCATE it cannot capture", async () => {
    await db.createDatabase("gone");
    await db.query(`USE gone; CREATE TABLE t (id INT PRIMARY KEY); CREATE TABLE u (id INT PRIMARY KEY); INSERT INTO u VALUES (1)`);
    const out = new MemoryOutput();
    const logs: string[] = [];
    const cap = startCapture(configFor(db), [{ namespace: "gone", stream: "u" }, { namespace: "gone", stream: "t" }], out, logs);
    await out.until(() => modeOf(out.state, "gone%2Ft") === "active", 30_000, "backfill");
    await db.query(`TRUNCATE TABLE gone.u; DROP TABLE gone.t`);
    await cap.done.catch(() => {});
    expect(String((cap.error as Error)?.message)).toBe("binding 1 (gone.t): the table no longer exists; remove the binding or re-create the table");
    expect(logs.some((l) => l.includes("TRUNCATE is not captured") && l.includes('"binding":0'))).toBe(true);
  });

  it("pages a backfill by composite keys of bytes, times, decimals and big unsigned integers, each row once", async () => {
    await db.createDatabase("ckeys");
    await db.query(`USE ckeys; CREATE TABLE t (b VARBINARY(8), at DATETIME(3), d DECIMAL(30,10), n BIGINT UNSIGNED, v INT, PRIMARY KEY (b, at, d, n));
      INSERT INTO t SELECT UNHEX(LPAD(HEX(seq % 3), 2, '0')), TIMESTAMP('2024-01-01') + INTERVAL (seq % 5) SECOND + INTERVAL 0.001 * (seq % 2) SECOND,
        (seq % 4) / 3, 18446744073709551615 - seq, seq FROM seq_1_to_97;`);
    const out = new MemoryOutput();
    const cap = startCapture(configFor(db, { backfill_chunk_size: 7 }), [{ namespace: "ckeys", stream: "t" }], out);
    await out.until(() => modeOf(out.state, "ckeys%2Ft") === "active", 30_000, "backfill");
    await cap.stop();
    expect(cap.error).toBeUndefined();
    const vs = out.committed.map((d) => d.doc.v).sort((a, b) => a - b);
    expect(vs).toEqual(Array.from({ length: 97 }, (_, i) => i + 1));
    expect(out.checkpoints).toBeGreaterThan(97 / 7);
  });

  it("pages a backfill by ENUM and SET keys in their stored order, each row once", async () => {
    await db.createDatabase("ekeys");
    // Labels out of alphabetical order, one with a comma and a quote: string comparison would skip or repeat rows.
    await db.query(`USE ekeys; CREATE TABLE t (e ENUM('zeta', 'it''s', 'a,b', 'mid') NOT NULL, s SET('y', 'x', 'w') NOT NULL, v INT NOT NULL, PRIMARY KEY (e, s));
      INSERT INTO t SELECT ELT(seq % 4 + 1, 'zeta', 'it''s', 'a,b', 'mid'), (seq DIV 4) % 8, seq FROM seq_0_to_31;`);
    const out = new MemoryOutput();
    const cap = startCapture(configFor(db, { backfill_chunk_size: 3 }), [{ namespace: "ekeys", stream: "t" }], out);
    await out.until(() => modeOf(out.state, "ekeys%2Ft") === "active", 30_000, "backfill");
    await cap.stop();
    expect(cap.error).toBeUndefined();
    expect(out.committed.map((d) => d.doc.v).sort((a, b) => a - b)).toEqual(Array.from({ length: 32 }, (_, i) => i));
    const labels = out.committed.map((d) => [d.doc.e, d.doc.s]);
    expect(labels.slice(0, 3)).toEqual([["zeta", ""], ["zeta", "y"], ["zeta", "x"]]);
    expect(labels).toContainEqual(["it's", "y,x,w"]);
    expect(out.checkpoints).toBeGreaterThan(32 / 3);
  });
});
