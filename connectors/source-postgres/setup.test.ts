/**
 * Discovery, Validate's prerequisite checks, slot advancement and a dropped
 * table: the parts of the connector that talk about the database itself.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPgCluster, type PgCluster } from "../../test/support/pg-cluster.js";
import { createLogger } from "../../src/log.js";
import connector from "./connector.js";
import { MemoryOutput, startCapture } from "./testing.js";

let pg: PgCluster;
beforeAll(async () => {
  pg = await startPgCluster();
});
afterAll(async () => {
  await pg?.stop();
});

const ctx = () => ({ log: createLogger({ level: "error" }), signal: new AbortController().signal });
const cfgFor = (c: PgCluster, db: string, extra: Record<string, unknown> = {}) => ({
  address: `${c.host}:${c.port}`, database: db, user: c.user, sslmode: "disable",
  slot: `slot_${db}`, publication: `pub_${db}`, heartbeat_interval_seconds: 1, ...extra,
});
const validateReq = (config: any, tables: string[]) => ({
  name: "test/capture",
  config,
  bindings: tables.map((t) => {
    const [namespace, stream] = t.split(".");
    return { resourceConfig: { namespace, stream }, resourcePath: [namespace, stream], collection: {} as any, backfill: 0, stateKey: t };
  }),
  request: {} as any,
});

describe("discover", () => {
  it("lists tables (not views or partitions) with keys, nullability and types", async () => {
    const db = "disco";
    await pg.createDatabase(db);
    await pg.query(db, `CREATE SCHEMA "Sales"`);
    await pg.query(db, `CREATE TABLE "Sales"."Order Lines" (order_id int, line int, note text NOT NULL, amount numeric(10,2), PRIMARY KEY (order_id, line))`);
    await pg.query(db, `CREATE TABLE by_index (a int NOT NULL, b text NOT NULL, c int, UNIQUE (c), UNIQUE (a, b))`);
    await pg.query(db, `CREATE TABLE keyless (x int)`);
    await pg.query(db, `CREATE VIEW v AS SELECT 1 AS one`);
    await pg.query(db, `CREATE TABLE p (id int PRIMARY KEY) PARTITION BY RANGE (id)`);
    await pg.query(db, `CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10)`);
    const bindings = await connector.discover(cfgFor(pg, db) as any, ctx());
    const byName = Object.fromEntries(bindings.map((b) => [b.recommendedName, b]));
    expect(Object.keys(byName).sort()).toEqual(["Sales/Order_Lines", "public/by_index", "public/keyless", "public/p"]);
    const lines = byName["Sales/Order_Lines"];
    expect(lines.key).toEqual(["/order_id", "/line"]);
    expect(lines.resourceConfig).toEqual({ namespace: "Sales", stream: "Order Lines" });
    const props = (lines.documentSchema as any).properties;
    expect(props.note.type).toBe("string");
    expect(props.amount.type).toEqual(["string", "null"]);
    expect(props.amount.format).toBe("number");
    expect(props.order_id.type).toBe("integer");
    expect(props._meta.properties.op.enum).toEqual(["c", "u", "d"]);
    expect(byName["public/by_index"].key).toEqual(["/a", "/b"]);
    expect(byName["public/keyless"].key).toEqual(["/_meta/source/loc"]);
  });
});

describe("validate", () => {
  it("reports every unmet prerequisite at once, each with the SQL that fixes it", async () => {
    const replica = await startPgCluster({ settings: { wal_level: "replica" } });
    try {
      const db = "prereq";
      await replica.createDatabase(db);
      await replica.query(db, `CREATE ROLE capture LOGIN`);
      await replica.query(db, `REVOKE CREATE ON DATABASE ${db} FROM PUBLIC`);
      await replica.query(db, `CREATE TABLE secret (id int PRIMARY KEY)`);
      await replica.query(db, `CREATE TABLE nokey (v int)`);
      await replica.query(db, `GRANT SELECT ON nokey TO capture`);
      const config = { ...cfgFor(replica, db), user: "capture" };
      const err = await connector.validate!(validateReq(config, ["public.secret", "public.nokey", "public.missing"]) as any, ctx()).then(
        () => null,
        (e) => e as Error,
      );
      expect(err?.name).toBe("ConnectorError");
      const msg = err!.message;
      expect(msg).toMatch(/wal_level is replica[\s\S]*ALTER SYSTEM SET wal_level = logical/);
      expect(msg).toMatch(/lacks the REPLICATION attribute[\s\S]*ALTER ROLE "capture" WITH REPLICATION;/);
      expect(msg).toMatch(/publication pub_prereq does not exist[\s\S]*CREATE PUBLICATION "pub_prereq"/);
      expect(msg).toMatch(/cannot read public.secret[\s\S]*GRANT SELECT ON "public"."secret" TO "capture";/);
      expect(msg).toMatch(/public.nokey has no replica identity[\s\S]*ALTER TABLE "public"."nokey" REPLICA IDENTITY FULL;/);
      expect(msg).toMatch(/table public.missing does not exist/);
      expect(msg).toMatch(/^6 prerequisites/);
    } finally {
      await replica.stop();
    }
  });

  it("changes nothing at the source, even when it fails as a superuser", async () => {
    const replica = await startPgCluster({ settings: { wal_level: "replica" } });
    try {
      const db = "prereq_ro";
      await replica.createDatabase(db);
      await replica.query(db, `CREATE TABLE a (id int PRIMARY KEY)`);
      const err = await connector.validate!(validateReq(cfgFor(replica, db), ["public.a"]) as any, ctx()).catch((e) => e as Error);
      expect((err as Error).message).toMatch(/^1 prerequisite of the PostgreSQL capture is not met:\n- wal_level is replica/);
      expect(await replica.query(db, `SELECT pubname FROM pg_publication`)).toEqual([]);
      expect(await replica.query(db, `SELECT slot_name FROM pg_replication_slots`)).toEqual([]);
    } finally {
      await replica.stop();
    }
  });

  it("leaves creating the publication and adding the tables to Apply, when the user may", async () => {
    const db = "prereq_ok";
    await pg.createDatabase(db);
    await pg.query(db, `CREATE TABLE a (id int PRIMARY KEY)`);
    const pubTables = async () => (await pg.query(db, `SELECT tablename FROM pg_publication_tables WHERE pubname = 'pub_prereq_ok'`)).map((r) => r.tablename);
    // sslmode=prefer falls back to plain TCP on a server without TLS.
    const config = cfgFor(pg, db, { sslmode: "prefer" });
    const paths = await connector.validate!(validateReq(config, ["public.a"]) as any, ctx());
    expect(paths).toEqual([["public", "a"]]);
    expect(await pg.query(db, `SELECT pubname FROM pg_publication`)).toEqual([]);
    const { actionDescription: described } = await connector.apply!(validateReq(config, ["public.a"]) as any, ctx());
    expect(described).toMatch(/create publication pub_prereq_ok[\s\S]*add public.a to publication pub_prereq_ok/);
    expect(await pubTables()).toEqual(["a"]);
    // Applied again, there is nothing left to do.
    expect(await connector.apply!(validateReq(config, ["public.a"]) as any, ctx())).toEqual({ actionDescription: "" });
  });

  it("with create_publication off, reports the missing publication and leaves it to the user", async () => {
    const db = "prereq_nocreate";
    await pg.createDatabase(db);
    await pg.query(db, `CREATE TABLE a (id int PRIMARY KEY)`);
    const config = cfgFor(pg, db, { create_publication: false });
    const err = await connector.validate!(validateReq(config, ["public.a"]) as any, ctx()).catch((e) => e as Error);
    expect((err as Error).message).toMatch(/publication pub_prereq_nocreate does not exist\n  fix: CREATE PUBLICATION "pub_prereq_nocreate"/);
    expect(await connector.apply!(validateReq(config, ["public.a"]) as any, ctx())).toEqual({ actionDescription: "" });
    expect(await pg.query(db, `SELECT pubname FROM pg_publication`)).toEqual([]);
  });

  it("reports a table missing from an existing publication the user may not alter", async () => {
    const db = "prereq_pub";
    await pg.createDatabase(db);
    await pg.query(db, `CREATE TABLE a (id int PRIMARY KEY)`);
    await pg.query(db, `CREATE PUBLICATION pub_prereq_pub`);
    await pg.query(db, `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'repl') THEN CREATE ROLE repl LOGIN REPLICATION; END IF; END $$`);
    await pg.query(db, `GRANT SELECT ON a TO repl`);
    const err = await connector.validate!(validateReq({ ...cfgFor(pg, db), user: "repl" }, ["public.a"]) as any, ctx()).catch((e) => e as Error);
    expect((err as Error).message).toMatch(/public.a is not in publication pub_prereq_pub[\s\S]*ALTER PUBLICATION "pub_prereq_pub" ADD TABLE "public"."a";/);
  });
});

describe("config", () => {
  it("names the field at fault", async () => {
    const { normalizeConfig } = await import("./config.js");
    expect(() => normalizeConfig({ user: "u" })).toThrow("endpoint config /address must be a string and is required");
    expect(() => normalizeConfig({ address: "db:5432", user: "u", slot: "Bad-Slot" })).toThrow(/\/slot may hold only lower-case letters/);
    expect(() => normalizeConfig({ address: "db:5432", user: "u", backfill_chunk_size: 0 })).toThrow("endpoint config /backfill_chunk_size must be a positive integer");
    expect(() => normalizeConfig({ address: "db:5432:1", user: "u" })).toThrow(/\/address must be host or host:port/);
    expect(normalizeConfig({ address: "db", user: "u" })).toMatchObject({ database: "postgres", slot: "flow_slot", publication: "flow_publication", sslmode: "prefer" });
  });
  it("reports an unreachable server by its address, without the password", async () => {
    const err = await connector.discover({ address: "127.0.0.1:1", user: "u", password: "hunter2", sslmode: "disable" } as any, ctx()).catch((e) => e as Error);
    expect((err as Error).message).toMatch(/^cannot connect to PostgreSQL at 127\.0\.0\.1:1: connection refused/);
    expect((err as Error).message).not.toContain("hunter2");
  });
});

describe("slot and table lifecycle", () => {
  it("advances the slot on an idle database only after acknowledgements", async () => {
    const db = "idle";
    await pg.createDatabase(db);
    await pg.createDatabase("busy");
    await pg.query(db, `CREATE TABLE t (id int PRIMARY KEY)`);
    const out = new MemoryOutput();
    out.autoAck = false;
    const cap = startCapture(cfgFor(pg, db), [{ namespace: "public", stream: "t" }], out);
    await out.until(() => out.state.bindingStateV1?.["public%2Ft"]?.mode === "active", 30_000, "backfill");
    const slotLsn = async () => (await pg.query(db, `SELECT confirmed_flush_lsn AS l, pg_current_wal_lsn() AS now FROM pg_replication_slots WHERE slot_name = 'slot_idle'`))[0];
    const before = (await slotLsn()).l;
    // WAL grows elsewhere while this database is idle.
    await pg.query("busy", `CREATE TABLE filler AS SELECT g FROM generate_series(1, 100000) g`);
    const walNow = (await slotLsn()).now;
    const checkpoints = out.checkpoints;
    await out.until(() => out.checkpoints >= checkpoints + 2, 20_000, "heartbeat checkpoints");
    await new Promise((r) => setTimeout(r, 500));
    expect((await slotLsn()).l).toBe(before);

    // Acknowledge everything: the slot moves past the WAL written by the other database.
    out.autoAck = true;
    (out as any).ack(out.checkpoints);
    await out.until(() => out.checkpoints >= checkpoints + 4, 20_000, "more heartbeats");
    const lsnToNum = (l: string) => { const [a, b] = l.split("/"); return (BigInt("0x" + a) << 32n) + BigInt("0x" + b); };
    const deadline = Date.now() + 10_000;
    while (lsnToNum((await slotLsn()).l) <= lsnToNum(walNow) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(lsnToNum((await slotLsn()).l)).toBeGreaterThan(lsnToNum(walNow));
    await cap.stop();
  });

  it("fails with a clear error when a captured table is dropped", async () => {
    const db = "dropped";
    await pg.createDatabase(db);
    await pg.query(db, `CREATE TABLE gone (id int PRIMARY KEY)`);
    const out = new MemoryOutput();
    const cap = startCapture(cfgFor(pg, db), [{ namespace: "public", stream: "gone" }], out);
    await out.until(() => out.state.bindingStateV1?.["public%2Fgone"]?.mode === "active", 30_000, "backfill");
    await pg.query(db, `DROP TABLE gone`);
    const err = await Promise.race([cap.done.then(() => null, (e) => e as Error), new Promise((r) => setTimeout(() => r("still running"), 15_000))]);
    await cap.stop();
    expect((err as Error).message).toBe("binding 0 (public.gone): the table no longer exists; remove the binding or re-create the table");
  });
});
