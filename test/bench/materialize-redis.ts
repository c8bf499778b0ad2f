/**
 * materialize-redis throughput, driven over stdio as the runtime drives it
 * (framed protobuf requests into `tributary run materialize-redis`), beside
 * the raw ceiling measured in the same run: one ioredis client SETting the
 * same values to the same keys, pipelined.
 *
 * BENCH_DOCS documents (default 1,000,000) of ~300 bytes in transactions of
 * BENCH_TXN (50,000): the first half create keys, the second half update
 * them (each update is Loaded first, as the runtime does for keys that
 * exist). BENCH_REDIS_MODES lists the delivery modes to measure (default
 * "exactly_once,at_least_once"); the ratio is reported for each.
 *
 * Each mode also prints the Redis server's CPU seconds beside the raw run's
 * (INFO cpu; the server must be otherwise idle): on a loaded machine the
 * raw ceiling is bound by the client, so docs/s ratios say little about
 * Redis's own work, which is what limits both on a quiet one.
 *
 * At-least-once chunks of plain SETs go as MSET instead of the write script
 * (connectors/materialize-redis/direct.ts). Back to back, 300,000 documents,
 * load average ~19: redis-server CPU 1.88 s against raw SET's 1.03 s before
 * (raw/connector 0.55), 1.40 s against 1.16 s after (0.83); docs/s ratios
 * 0.95 before, 0.99 after (client-bound under that load), peak RSS 178 /
 * 163 MB. Exactly-once (unchanged) cost 2.02 s against 0.86 s in the same
 * setting: its staging RPUSHes and the apply script's decoding.
 *
 * Each mode also prints CPU µs per document: the connector process (from
 * Opened on) and redis-server, beside the raw run's client and server.
 *
 * Where exactly-once time went (2026-12-06, profiles under load average
 * ~10): the connector process idles ~65 % of the run; its busy time is
 * staging (~9 %: chunk encoding, ioredis writing 1 MiB RPUSHes), Loads
 * (~6 %), GC (~7 %), stdio framing. Redis: the apply script (EVALSHA)
 * cost ~3 µs/doc of which its MSET was ~1 µs; the Lua loop building the
 * MSET from the op-by-op chunk cost about as much again. The apply sits on
 * the critical path (Acknowledge → apply → Loads → Flush → Stores), and
 * every Load waited for it. Micro-measurement of one 1,000-SET chunk's
 * apply, redis-server CPU per document: op-by-op 2.6–3.5 µs, the "M" form
 * handed to MSET as decoded 1.8–2.3 µs, a client's raw MSET 1.3 µs.
 * Changes: plain-SET chunks are staged in the "M" form (chunk.ts), and
 * Load batches without the pending transaction's keys are read while it
 * is applied (pending-keys.ts).
 *
 * Back to back, 1,000,000 documents, load average 9–12 on 2 cores (raw SET
 * client-bound at 32k–52k docs/s, so docs/s ratios say little; two runs
 * each): exactly_once redis-server 4.45 / 4.26 µs/doc before, 3.97 / 3.81
 * after (raw SET 1.6–1.8), connector 8.2 / 7.3 before, 8.3 / 7.8 after
 * (raw client 8.2–8.9); docs/s ratio 0.88 / 1.08 before, 0.88 / 0.82
 * after. at_least_once (unchanged path) connector 8.0 / 7.8 → 8.2 / 7.6,
 * server 2.2 / 2.3 → 2.4 / 2.2; ratios 1.24 / 1.52 → 1.13 / 1.00. Peak RSS
 * 182 MB before, 200 MB after (the early-read budget: 16 batches, 8 MB).
 *
 * Second round (2026-12-07, issue #17), back to back under load average
 * 4–13. Where the connector's busy time went before: the pending-key Set
 * ~12 %, decoding each document to a string and encoding it into the chunk
 * ~8 %, Loads' strings ~7 %, GC ~20 %, the rest SDK decoding and stdio.
 * Redis: the apply script ~3.6 µs/doc against a client's MSET ~1.3.
 * Changes: a Bloom filter for pending keys, documents staged from their
 * received bytes, Loads answered with the MGET reply's bytes, simple keys
 * named without the scanner, at-least-once MSETs encoded in one pass, and
 * the exactly-once apply from the session's kept chunks (MULTI/EXEC under
 * WATCH) instead of the script. Final three pairs (main's build and this
 * one alternating, 1M docs, load average 14 → 6): exactly_once connector
 * 8.15 / 8.20 / 7.41 → 7.60 / 6.96 / 6.67 µs/doc, redis-server 3.41 →
 * 2.12 / 2.05 (the other runs' server figures were polluted by another
 * client); at_least_once connector 7.28 / 7.05 / 6.88 → 6.04 / 5.70 /
 * 5.46; peak RSS 173–223 → 164–209 MB. Sending the documents again for
 * the apply's MSETs costs the connector up to ~1 µs/doc (off the main
 * thread, likely GC), about what the byte paths saved. docs/s ratios
 * swung 0.37–1.27 for one build under this load.
 *
 * Only the time between sending a transaction's first request and receiving
 * its last response counts (building requests does not), plus the final
 * Acknowledge that applies the last transaction. REDIS_URL selects the
 * server (default redis://127.0.0.1:6379).
 */
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Redis } from "ioredis";
import type { Response } from "../../src/gen/materialize/materialize_pb.js";
import { CheckpointSchema } from "../../src/gen/consumer/protocol/protocol_pb.js";
import { CollectionSpecSchema, MaterializationSpecSchema } from "../../src/gen/flow/flow_pb.js";
import { cpuSeconds, peakRssMb, report, type Rate } from "./_measure.js";
import { frame, MaterializeDriver } from "./_materialize-driver.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const DOCS = Number(process.env.BENCH_DOCS ?? 1_000_000);
const TXN = Number(process.env.BENCH_TXN ?? 50_000);
const MODES = (process.env.BENCH_REDIS_MODES ?? "exactly_once,at_least_once").split(",").filter(Boolean);
const HALF = Math.ceil(DOCS / 2);
const enc = new TextEncoder();

const FILLER = "The quick brown fox jumps over the lazy dog while the widget factory hums along";

/** Document `i` of the run: keys 0..HALF-1, written once as a create and once as an update. */
function doc(i: number): { id: number; text: string; update: boolean } {
  const update = i >= HALF;
  const id = update ? i - HALF : i;
  const v = update ? 2 : 1;
  const text = JSON.stringify({
    id,
    name: `widget ${id} rev ${v}`,
    price: Math.round((id % 10_000) * 137) / 100 + v,
    qty: (id * 7 + v) % 1000,
    active: (id + v) % 3 !== 0,
    created_at: new Date(Date.UTC(2024, 0, 1) + id * 1000 + v).toISOString(),
    category: ["tools", "garden", "kitchen", "toys", "books"][id % 5],
    note: `${FILLER} #${v}`,
    tags: ["alpha", "beta", "gamma", "delta"],
    supplier: { name: `supplier ${id % 97}`, country: "NZ" },
  });
  return { id, text, update };
}

async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 5000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== "0");
}

async function runConnector(ns: string, delivery: string): Promise<{ rate: Rate; rssMb: number; cpu: number }> {
  const spec = create(MaterializationSpecSchema, {
    name: `bench/${ns}`,
    configJson: enc.encode(JSON.stringify({ address: REDIS_URL, delivery, advanced: { internal_prefix: `${ns}:internal` } })),
    bindings: [
      {
        resourceConfigJson: enc.encode(JSON.stringify({ prefix: `${ns}:w` })),
        resourcePath: [`${ns}:w`],
        collection: create(CollectionSpecSchema, { name: "bench/widgets", key: ["/id"] }),
        stateKey: "widgets",
        fieldSelection: { keys: ["id"], values: [], document: "flow_document" },
      },
    ],
  });
  const d = new MaterializeDriver("materialize-redis");
  const ack = frame({ acknowledge: {} as never });
  await d.send(frame({ open: { materialization: spec, version: "v1", range: { keyBegin: 0, keyEnd: 0xffffffff, rClockBegin: 0, rClockEnd: 0xffffffff } } as never }));
  await d.next("opened");
  const cpu0 = cpuSeconds(d.pid); // startup is not per-document work

  let seconds = 0;
  let bytes = 0;
  let loaded = 0;
  let expectLoaded = 0;
  for (let first = 0, t = 0; first < DOCS; first += TXN, t++) {
    const loads: Buffer[] = [];
    const stores: Buffer[] = [];
    for (let i = first; i < Math.min(DOCS, first + TXN); i++) {
      const { id, text, update } = doc(i);
      const key = enc.encode(`[${id}]`);
      if (update) loads.push(frame({ load: { binding: 0, keyJson: key } as never }));
      stores.push(frame({ store: { binding: 0, keyJson: key, valuesJson: enc.encode("[]"), docJson: enc.encode(text), exists: update } as never }));
      bytes += text.length;
    }
    expectLoaded += loads.length;
    const commit = frame({ startCommit: { runtimeCheckpoint: create(CheckpointSchema, { sources: { "bench/src": { readThrough: BigInt(t + 1) } } }) } as never });

    const countLoaded = (r: Response) => {
      if (!r.loaded) throw new Error("expected Loaded, Acknowledged or Flushed");
      loaded++;
    };
    const start = performance.now();
    // Loads are pipelined behind the Acknowledge, as the runtime does.
    await d.send(ack);
    await d.sendAll(loads);
    await d.next("acknowledged", countLoaded);
    await d.send(frame({ flush: {} as never }));
    await d.next("flushed", countLoaded);
    await d.sendAll(stores);
    await d.send(commit);
    await d.next("startedCommit");
    seconds += (performance.now() - start) / 1000;
  }
  // The last transaction is applied at its Acknowledge.
  const start = performance.now();
  await d.send(ack);
  await d.next("acknowledged");
  seconds += (performance.now() - start) / 1000;
  const rssMb = peakRssMb(d.pid);
  const cpu = cpuSeconds(d.pid) - cpu0;
  const code = await d.close();
  if (code !== 0) throw new Error(`connector exited with ${code}`);
  if (loaded !== expectLoaded) throw new Error(`loaded ${loaded} documents, expected ${expectLoaded}`);
  return { rate: { docs: DOCS, bytes, seconds }, rssMb, cpu };
}

async function runRaw(redis: Redis, ns: string): Promise<{ rate: Rate; cpu: number }> {
  let seconds = 0;
  let cpu = 0;
  let bytes = 0;
  for (let first = 0; first < DOCS; first += TXN) {
    const kv: Array<[string, string]> = [];
    for (let i = first; i < Math.min(DOCS, first + TXN); i++) {
      const { id, text } = doc(i);
      kv.push([`${ns}:w:${id}`, text]);
      bytes += text.length;
    }
    const start = performance.now();
    const c0 = process.cpuUsage();
    const replies: Array<Promise<unknown>> = [];
    for (let i = 0; i < kv.length; i += 1000) {
      const p = redis.pipeline();
      for (const [k, v] of kv.slice(i, i + 1000)) p.set(k, v);
      replies.push(p.exec());
    }
    await Promise.all(replies);
    const c = process.cpuUsage(c0);
    cpu += (c.user + c.system) / 1e6;
    seconds += (performance.now() - start) / 1000;
  }
  return { rate: { docs: DOCS, bytes, seconds }, cpu };
}

/** Seconds of CPU the Redis server has used (INFO cpu), to compare its work per run whatever the load. */
async function serverCpu(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  const get = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)![1]);
  return get("used_cpu_sys") + get("used_cpu_user");
}

async function main(): Promise<void> {
  const redis = new Redis(REDIS_URL);
  const ns = `bench-${randomBytes(3).toString("hex")}`;
  process.stdout.write(`${DOCS.toLocaleString("en-US")} docs (${(DOCS - HALF).toLocaleString("en-US")} updates) in transactions of ${TXN.toLocaleString("en-US")}, ~${doc(0).text.length} bytes each\n`);
  try {
    let raw: Rate;
    let rawCpu = NaN;
    let rawClientCpu = NaN;
    try {
      const c0 = await serverCpu(redis);
      ({ rate: raw, cpu: rawClientCpu } = await runRaw(redis, `${ns}-raw`));
      rawCpu = (await serverCpu(redis)) - c0;
    } finally {
      await dropPrefix(redis, `${ns}-raw`);
    }
    for (const mode of MODES) {
      try {
        const c0 = await serverCpu(redis);
        const { rate, rssMb, cpu: clientCpu } = await runConnector(`${ns}-${mode}`, mode);
        const cpu = (await serverCpu(redis)) - c0;
        const us = (s: number) => ((s / DOCS) * 1e6).toFixed(2);
        process.stdout.write(`redis-server CPU: ${mode} ${cpu.toFixed(2)} s, raw SET ${rawCpu.toFixed(2)} s (raw/${mode} ${(rawCpu / cpu).toFixed(2)})\n`);
        process.stdout.write(`CPU µs/doc: ${mode} connector ${us(clientCpu)} + server ${us(cpu)} | raw client ${us(rawClientCpu)} + server ${us(rawCpu)}\n`);
        // Check the outcome: keys hold their last version.
        const got = await redis.mget([0, HALF - 1].map((id) => `${ns}-${mode}:w:${id}`));
        if (got.some((v) => !v || (DOCS > 1 && !v.includes("rev 2")))) throw new Error(`unexpected final values ${JSON.stringify(got)}`);
        report(`materialize-redis ${mode}`, rate, raw, `peak RSS ${rssMb.toFixed(0)} MB`, rssMb);
      } finally {
        await dropPrefix(redis, `${ns}-${mode}`);
      }
    }
  } finally {
    redis.disconnect();
  }
}

await main();
