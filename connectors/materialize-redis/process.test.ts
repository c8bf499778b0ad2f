/**
 * materialize-redis as a process over stdio: a SIGKILL in the middle of a
 * long multi-chunk apply, and configuration errors as the runtime sees them.
 * Needs `npx tsc -p .` first.
 */
import { afterAll, describe, expect, it } from "vitest";
import { RequestSchema, ResponseSchema, type Request, type Response } from "../../src/gen/materialize/materialize_pb.js";
import { ConnectorProcess, TRIBUTARY } from "../../test/support/process.js";
import { markerOf, type StagedTxn } from "./stage.js";
import {
  ack,
  dropNamespace,
  durableState,
  endpoint,
  flush,
  materialization,
  namespace,
  open,
  redis,
  req,
  snapshot,
  startCommit,
  store,
  streamIds,
} from "./test-support.js";


const r = redis();
const used: string[] = [];
const ACL_USER = `${namespace()}-user`;
afterAll(async () => {
  await r.acl("DELUSER", ACL_USER).catch(() => undefined);
  for (const n of used) await dropNamespace(r, n);
  r.disconnect();
});

function spawnConnector() {
  return new ConnectorProcess(["node", TRIBUTARY, "run", "materialize-redis"], "proto", RequestSchema, ResponseSchema);
}

const count = (rs: Response[], k: keyof Response) => rs.filter((x) => x[k] !== undefined).length;
const RECORDS = 12_000;

/** One transaction of RECORDS/2 keys and RECORDS/2 stream entries, one record per chunk. */
function bigTxn(ns: string) {
  const spec = materialization(ns, [{ prefix: `${ns}:k` }, { prefix: `${ns}:s`, delta: true }], endpoint(ns, { advanced: { internal_prefix: `${ns}:internal`, chunk_records: 1 } }));
  const stores: Request[] = [];
  for (let i = 0; i < RECORDS / 2; i++) {
    stores.push(store(0, { id: i, name: `name-${i}` }), store(1, { id: i, name: `event-${i}` }));
  }
  return { spec, stores };
}

/** Runs the transaction up to StartedCommit; returns the process and the durable state. */
async function commitBigTxn(ns: string) {
  const { spec, stores } = bigTxn(ns);
  const p = spawnConnector();
  p.send(open(spec), ack());
  await p.until((rs) => count(rs, "acknowledged") === 1);
  p.send(flush(), ...stores, startCommit());
  await p.until((rs) => count(rs, "startedCommit") === 1, 60_000);
  return { p, spec, state: durableState({}, p.received) as { pending: Record<string, StagedTxn> } };
}

async function outcome(ns: string) {
  const keys = await snapshot(r, `${ns}:k`);
  const stream = await snapshot(r, `${ns}:s`);
  const ids = (await streamIds(r, `${ns}:s`)).map((id) => id.split("-")[1]);
  return { keys, stream, ids };
}

describe("materialize-redis process", () => {
  it("killed in the middle of an apply, the next session finishes it: same keys and stream as without the crash", async () => {
    // Reference: the same transaction, applied without interruption.
    const ref = namespace();
    used.push(ref);
    const a = await commitBigTxn(ref);
    a.p.send(ack());
    await a.p.until((rs) => count(rs, "acknowledged") === 2, 60_000);
    a.p.close();
    expect(await a.p.exited).toBe(0);
    const expected = await outcome(ref);
    expect(Object.keys(expected.keys)).toHaveLength(RECORDS / 2);
    expect(expected.stream[""]).toHaveLength(RECORDS / 2);

    const ns = namespace();
    used.push(ns);
    const b = await commitBigTxn(ns);
    const txn = b.state.pending["00000000-ffffffff"]!;
    const chunks = txn.chunks;
    b.p.send(ack()); // starts the apply
    let progress = -1;
    while (progress < 500) {
      progress = Number((await r.get(markerOf(txn.stage))) ?? -1);
      if (count(b.p.received, "acknowledged") === 2) break;
    }
    b.p.kill();
    await b.p.exited;
    const at = Number(await r.get(markerOf(txn.stage)));
    expect(count(b.p.received, "acknowledged")).toBe(1); // the apply never finished
    expect(at).toBeGreaterThanOrEqual(500);
    expect(at).toBeLessThan(chunks - 1);
    expect(await r.exists(txn.stage)).toBe(1);

    // Recovery: Open with the committed state; the first Acknowledge resumes.
    const c = spawnConnector();
    c.send(open(b.spec, b.state), ack());
    await c.until((rs) => count(rs, "acknowledged") === 1, 60_000);
    c.close();
    expect(await c.exited).toBe(0);
    expect(durableState(b.state, c.received)).toEqual({ pending: {} });
    expect(await outcome(ns)).toEqual(expected);
    expect(await r.exists(txn.stage, markerOf(txn.stage))).toBe(0);
  }, 120_000);

  it.each([
    ["a wrong password", { username: ACL_USER, password: "not-the-password-123" }, /^authentication failed at redis:\/\/127\.0\.0\.1:6379: wrong user name or password$/],
    ["an unreachable host", { address: "127.0.0.1:1" }, /^could not connect to redis:\/\/127\.0\.0\.1:1: connection refused \(is Redis running there\?\)$/],
  ])("fails Validate with %s: exit 1 and a one-line error, no stack, no secret", async (_name, config, error) => {
    await r.acl("SETUSER", ACL_USER, "on", ">the-right-password-1", "~*", "+@all");
    const p = spawnConnector();
    const enc = new TextEncoder();
    p.send(
      req({
        validate: {
          name: "acme/redis",
          configJson: enc.encode(JSON.stringify({ address: "127.0.0.1:6379", ...config })),
          bindings: [],
        },
      }),
    );
    p.close();
    expect(await p.exited).toBe(1);
    const last = p.lastLog();
    expect(last.level).toBe("error");
    expect(last.msg).toMatch(error);
    expect(p.stderr).not.toContain("not-the-password-123");
    expect(p.stderr).not.toMatch(/\n\s+at /);
    expect(p.received).toHaveLength(0);
  });

  it("never logs (at trace level) or returns a password put in the address", async () => {
    const SECRET = "Zq8-addr-s3cret";
    const ns = namespace();
    const p = new ConnectorProcess(["node", TRIBUTARY, "run", "materialize-redis"], "proto", RequestSchema, ResponseSchema, { LOG_LEVEL: "trace" });
    // Open logs the session config at debug level before the address is checked.
    p.send(open(materialization(ns, [{ prefix: `${ns}:k` }], endpoint(ns, { address: `redis://flow:${SECRET}@127.0.0.1:6379`, password: SECRET }))));
    p.close();
    expect(await p.exited).toBe(1);
    expect(p.stderr).toContain("materialization session config");
    expect(p.stderr).toContain("put the user name and password in their own fields");
    expect(p.stderr).not.toContain(SECRET);
  });
});
