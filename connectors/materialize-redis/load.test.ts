/**
 * Loads that read ahead of the previous transaction's apply: only batches
 * holding none of its keys, answered only after the apply. The reads share
 * one connection with the test's writes, so Redis runs them in the order
 * sent: a write sent after the loader's read is not seen by it.
 */
import { afterAll, describe, expect, it } from "vitest";
import { RawJson, RawJsonBytes, type LoadIterator, type LoadRequest } from "../../src/sdk/types.js";
import { loadDocuments } from "./load.js";
import { MAX_PENDING_KEYS, PendingKeys } from "./pending-keys.js";
import { planBinding } from "./records.js";
import { dropNamespace, namespace, redis } from "./test-support.js";
import { rng } from "../../test/support/rng.js";

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
    if (landed) got.push(doc instanceof RawJsonBytes ? Buffer.from(doc.bytes).toString() : (doc as RawJson).text);
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

  it("never reports an added key absent, and few others present (seeded random keys)", () => {
    const next = rng(41);
    const alphabet = ["a", "z", "0", ":", "\\", "é", "中", "😀", " "];
    const key = () => {
      let k = "p";
      for (let i = next(24); i >= 0; i--) k += alphabet[next(alphabet.length)];
      return k;
    };
    const pending = new PendingKeys(false);
    pending.begin();
    const added = new Set<string>();
    while (added.size < 50_000) added.add(key());
    for (const k of added) pending.add(k);
    for (const k of added) expect(pending.mayWrite(k)).toBe(true);
    let falsePositives = 0;
    let others = 0;
    while (others < 20_000) {
      const k = key();
      if (added.has(k)) continue;
      others++;
      if (pending.mayWrite(k)) falsePositives++;
    }
    expect(falsePositives).toBeLessThan(20);
    // A new transaction starts empty.
    pending.begin();
    expect([...added].slice(0, 1000).filter((k) => pending.mayWrite(k)).length).toBeLessThan(5);
  });
});

describe("materialize-redis Loaded documents as bytes", () => {
  it("answers with the bytes the text path would encode, as bytes when they are UTF-8", async () => {
    const n = namespace();
    namespaces.push(n);
    const p = `${n}:w`;
    const next = rng(5);
    const values: Buffer[] = [
      Buffer.from("{}"),
      Buffer.from(""),
      Buffer.from(JSON.stringify({ s: "é中文😀\u2028", n: 12345678901234567890 })),
      Buffer.from(JSON.stringify({ big: "x".repeat(300_000) })),
      Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xc3, 0x22, 0x7d]), // not UTF-8
      Buffer.from([0xed, 0xa0, 0x80]), // a lone surrogate's bytes: not UTF-8
    ];
    while (values.length < 2500) values.push(Buffer.from(JSON.stringify({ id: values.length, r: next(1_000_000_000), t: "ü".repeat(next(40)) })));
    const ids = values.map((_, i) => i);
    for (let i = 0; i < values.length; i += 500) await r.mset(values.slice(i, i + 500).flatMap((v, j) => [`${p}:${i + j}`, v]));
    const plan = planBinding({ resourceConfig: { prefix: p }, deltaUpdates: false, document: "flow_document", values: [] } as never, { keyBegin: 0, keyEnd: 0xffffffff });
    const requests: LoadRequest[] = [...ids, 999_999].map((id) => ({ binding: 0, keyJson: `[${id}]`, keyPacked: new Uint8Array() }));
    const it: LoadIterator = {
      async *[Symbol.asyncIterator]() {
        yield* requests;
      },
      committed: async () => undefined,
    };
    const got: Uint8Array[] = [];
    let asBytes = 0;
    await loadDocuments(r, [plan], it, (_b, doc) => {
      if (doc instanceof RawJsonBytes) asBytes++;
      got.push(doc instanceof RawJsonBytes ? doc.bytes : new TextEncoder().encode((doc as RawJson).text));
    });
    // The text path: ioredis's strings, encoded as the SDK encodes RawJson.
    const texts = await r.mget(ids.map((id) => `${p}:${id}`));
    expect(got.length).toBe(values.length);
    got.forEach((g, i) => expect(Buffer.from(g).equals(Buffer.from(new TextEncoder().encode(texts[i]!)))).toBe(true));
    expect(asBytes).toBe(values.length - 2);
  });
});
