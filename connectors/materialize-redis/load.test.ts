/**
 * Loads that read ahead of the previous transaction's apply: only batches
 * holding none of its keys, answered only after the apply. The reads share
 * one connection with the test's writes, so Redis runs them in the order
 * sent: a write sent after the loader's read is not seen by it.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { LoadIterator, LoadRequest, RawJson } from "../../src/sdk/types.js";
import { loadDocuments } from "./load.js";
import { MAX_PENDING_KEYS, PendingKeys } from "./pending-keys.js";
import { planBinding } from "./records.js";
import { dropNamespace, namespace, redis } from "./test-support.js";

const r = redis();
const namespaces: string[] = [];
afterAll(async () => {
  for (const n of namespaces) await dropNamespace(r, n);
  r.disconnect();
});

const turns = async (n = 3) => {
  for (let i = 0; i < n; i++) await new Promise((res) => setImmediate(res));
};

/** Loads of ids under one json binding with `prefix`; the previous commit lands when `commit()` is called. */
async function run(prefix: string, ids: number[], pending: PendingKeys | undefined, between: () => Promise<void>) {
  const plan = planBinding({ resourceConfig: { prefix }, deltaUpdates: false, document: "flow_document", values: [] } as never, { keyBegin: 0, keyEnd: 0xffffffff });
  let commit!: () => void;
  const committed = new Promise<void>((res) => (commit = res));
  let answeredBeforeCommit = 0;
  let landed = false;
  const requests: LoadRequest[] = ids.map((id) => ({ binding: 0, keyJson: `[${id}]`, keyPacked: new Uint8Array() }));
  const it: LoadIterator = {
    async *[Symbol.asyncIterator]() {
      yield* requests;
    },
    committed: () => committed,
  };
  const got: string[] = [];
  const loaded = (_binding: number, doc: unknown) => {
    if (landed) got.push((doc as RawJson).text);
    else answeredBeforeCommit++;
  };
  const done = loadDocuments(r, [plan], it, loaded, pending);
  await turns();
  await between();
  landed = true;
  commit();
  await done;
  return { got: got.sort(), answeredBeforeCommit };
}

describe("materialize-redis Loads during the previous apply", () => {
  it("reads a batch without pending keys before the apply, answers it after; a batch with one waits", async () => {
    const n = namespace();
    namespaces.push(n);
    const p = `${n}:w`;
    await r.mset(`${p}:1`, '{"v":"old1"}', `${p}:2`, '{"v":"old2"}');
    const pending = new PendingKeys(false);
    pending.begin();
    pending.add(`${p}:2`);

    // Key 1 is not pending: read at once, so a later write is not seen.
    const free = await run(p, [1], pending, async () => void (await r.set(`${p}:1`, '{"v":"new1"}')));
    expect(free).toEqual({ got: ['{"v":"old1"}'], answeredBeforeCommit: 0 });

    // Key 2 is pending: the read waits for the commit and sees the applied value.
    const held = await run(p, [1, 2], pending, async () => void (await r.set(`${p}:2`, '{"v":"new2"}')));
    expect(held).toEqual({ got: ['{"v":"new1"}', '{"v":"new2"}'], answeredBeforeCommit: 0 });

    // Without pending keys (at-least-once), every read waits.
    const waits = await run(p, [1], undefined, async () => void (await r.set(`${p}:1`, '{"v":"newer1"}')));
    expect(waits.got).toEqual(['{"v":"newer1"}']);
  });

  it("treats every key as pending after a recovery, and past the key limit, until applied", () => {
    const recovered = new PendingKeys(true);
    expect(recovered.mayWrite("any")).toBe(true);
    recovered.applied();
    expect(recovered.mayWrite("any")).toBe(false);

    const big = new PendingKeys(false);
    big.begin();
    big.add("a");
    expect([big.mayWrite("a"), big.mayWrite("b")]).toEqual([true, false]);
    for (let i = 0; i < MAX_PENDING_KEYS; i++) big.add(`k${i}`);
    expect(big.mayWrite("b")).toBe(true);
    big.begin();
    expect(big.mayWrite("b")).toBe(false);
  });
});
