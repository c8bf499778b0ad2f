/**
 * `json` columns keep their text as written, escapes of unpaired UTF-16
 * surrogates included, which Flow's runtime would reject: both the backfill
 * and the change stream write U+FFFD in their place (as an escape).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { startPgCluster, type PgCluster } from "../../test/support/pg-cluster.js";
import { MemoryOutput, startCapture } from "./testing.js";

let pg: PgCluster;
beforeAll(async () => {
  pg = await startPgCluster();
});
afterAll(async () => {
  await pg?.stop();
});

const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** No unpaired surrogate in any string or key of a parsed JSON value. */
const wellFormed = (v: unknown): boolean =>
  typeof v === "string" ? !LONE.test(v) : v !== null && typeof v === "object" ? Object.entries(v).every(([k, x]) => !LONE.test(k) && wellFormed(x)) : true;

// json text as stored; `\\` in these SQL strings is one backslash in the value.
const J = String.raw`{"lone\ud83d": "a\ud83db", "low": "\udc00", "pair": "\ud83d\ude00", "escaped": "\\ud83d", "list": ["\udbff", 1]}`;
const JA = String.raw`{"\"\\ud83d\"","[\"\\ud83d\\ude00\"]"}`;

it("replaces unpaired surrogate escapes in json with U+FFFD in backfill and stream alike", async () => {
  const db = "surrogates";
  await pg.createDatabase(db);
  await pg.query(db, `CREATE TABLE j (id int PRIMARY KEY, j json, jb jsonb, ja json[])`);
  const insert = (id: number) => pg.query(db, `INSERT INTO j VALUES ($1, $2::json, $3::jsonb, $4::json[])`, [id, J, `["\\ud83d\\ude00", "\\\\ud83d"]`, JA]);
  await insert(1);
  const out = new MemoryOutput();
  const cap = startCapture(
    { address: `${pg.host}:${pg.port}`, database: db, user: pg.user, sslmode: "disable", slot: "slot_s", publication: "pub_s", heartbeat_interval_seconds: 1 },
    [{ namespace: "public", stream: "j" }],
    out,
  );
  try {
    await out.until(() => out.state.bindingStateV1?.["public%2Fj"]?.mode === "active", 30_000, "the backfill");
    await insert(2);
    await out.until(() => out.committed.some((d) => d.doc.id === 2), 30_000, "the streamed row");
  } finally {
    await cap.stop();
  }
  const [backfilled, streamed] = [1, 2].map((id) => out.committed.find((d) => d.doc.id === id)!);
  expect(backfilled.doc._meta.source.snapshot).toBe(true);
  expect(streamed.doc._meta.source.snapshot).toBeUndefined();
  for (const d of [backfilled, streamed]) {
    expect(wellFormed(d.doc), d.text).toBe(true);
    expect(d.doc.j).toEqual({ "lone\ufffd": "a\ufffdb", low: "\ufffd", pair: "\ud83d\ude00", escaped: "\\ud83d", list: ["\ufffd", 1] });
    expect(d.doc.jb).toEqual(["\ud83d\ude00", "\\ud83d"]);
    expect(d.doc.ja).toEqual(["\ufffd", ["\ud83d\ude00"]]);
    // Written as escapes, as the column held them.
    expect(d.text).toContain(String.raw`"a\ufffdb"`);
  }
  const strip = (doc: any) => ({ ...doc, id: 0, _meta: undefined });
  expect(strip(streamed.doc)).toEqual(strip(backfilled.doc));
});
