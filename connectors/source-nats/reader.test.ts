/**
 * The stream reader's ordering rule against the shared NATS server: when its
 * consumer disappears (deleted while a pull is in flight, or between pulls,
 * as a server restart or an inactivity limit would do), it makes a new one
 * after the last message it received, so every message is read once, in
 * order, with no gap, however often that happens on an idle stream; and a
 * reader whose consumer cannot be made fails with an error naming the
 * stream.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/log.js";
import { StreamReader } from "./reader.js";
import { testNats, type TestNats } from "./test-support.js";

const quiet = createLogger({ level: "error" });
let nats: TestNats;
beforeAll(async () => {
  nats = await testNats();
});
afterAll(async () => {
  await nats?.close();
});

async function consumersOf(stream: string): Promise<string[]> {
  const names: string[] = [];
  for await (const ci of nats.jsm.consumers.list(stream)) names.push(ci.name);
  return names;
}

/** Takes messages until `count` arrived (or nothing came for a while); returns their sequences. */
async function takeAll(r: StreamReader, count: number, onEach?: (seq: number) => Promise<void>): Promise<number[]> {
  const seqs: number[] = [];
  const signal = new AbortController().signal;
  for (let idle = 0; seqs.length < count && idle < 20; ) {
    const got = await r.take(7, 500, signal);
    if (got.length === 0) idle++;
    for (const m of got) {
      // The reader says where the reply's timestamp token lies.
      expect(m.reply!.slice(m.tsFrom, m.tsTo)).toBe(String(m.timestampNanos));
      seqs.push(m.seq);
      await onEach?.(m.seq);
    }
  }
  return seqs;
}

describe("StreamReader", () => {
  it("makes a new consumer after the last message received when its consumer is deleted, repeating and skipping nothing", async () => {
    const s = await nats.stream("reader");
    for (let i = 1; i <= 120; i++) await nats.publish(`${s}.x`, `{"i":${i}}`);
    const r = await StreamReader.open({ nc: nats.nc, jsm: nats.jsm, stream: s, position: 0, pullSize: 10, log: quiet, expiresMs: 300 });
    try {
      const deleted: string[] = [];
      const seqs = await takeAll(r, 120, async (seq) => {
        // Mid-stream, twice: the buffer holds messages of the deleted consumer's pulls, and a pull may be in flight.
        if (seq === 25 || seq === 70) {
          const [name] = await consumersOf(s);
          deleted.push(name!);
          await nats.jsm.consumers.delete(s, name!);
        }
      });
      expect(seqs).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
      expect(deleted).toHaveLength(2);
      const now = await consumersOf(s);
      expect(now).toHaveLength(1);
      expect(deleted).not.toContain(now[0]);
      // Messages published afterwards keep coming, from the new consumer.
      for (let i = 121; i <= 125; i++) await nats.publish(`${s}.x`, `{"i":${i}}`);
      expect(await takeAll(r, 5)).toEqual([121, 122, 123, 124, 125]);
      expect(r.position).toBe(125);
    } finally {
      await r.close();
    }
    expect(await consumersOf(s)).toEqual([]);
  });

  it("keeps tailing when its idle consumer is deleted again and again, as an inactivity limit would", async () => {
    const s = await nats.stream("reader");
    await nats.publish(`${s}.x`, "1");
    const r = await StreamReader.open({ nc: nats.nc, jsm: nats.jsm, stream: s, position: 0, pullSize: 10, log: quiet, expiresMs: 200 });
    try {
      expect(await takeAll(r, 1)).toEqual([1]);
      const signal = new AbortController().signal;
      // More deletions than the reader's limit on re-creations in a row: pull expiries in between show its consumers work.
      for (let k = 0; k < 8; k++) {
        const [name] = await consumersOf(s);
        await nats.jsm.consumers.delete(s, name!);
        for (let wait = 0; wait < 40 && (await consumersOf(s)).length === 0; wait++) expect(await r.take(10, 100, signal)).toEqual([]);
        expect(await r.take(10, 500, signal)).toEqual([]);
      }
      await nats.publish(`${s}.x`, "2");
      expect(await takeAll(r, 1)).toEqual([2]);
    } finally {
      await r.close();
    }
  });

  it("starts after the given position with a subject filter, and fails naming the stream when the stream is gone", async () => {
    const s = await nats.stream("reader");
    for (let i = 1; i <= 30; i++) await nats.publish(`${s}.${i % 3 === 0 ? "three" : "other"}`, `${i}`);
    const r = await StreamReader.open({ nc: nats.nc, jsm: nats.jsm, stream: s, subject: `${s}.three`, position: 12, pullSize: 4, log: quiet, expiresMs: 300 });
    try {
      expect(r.remaining).toBe(6);
      expect(await takeAll(r, 6)).toEqual([15, 18, 21, 24, 27, 30]);
      expect(r.remaining).toBe(0);
      await nats.jsm.streams.delete(s);
      await expect(takeAll(r, 1)).rejects.toThrow(new RegExp(`stream ${s}`));
    } finally {
      await r.close();
    }
  });
});
