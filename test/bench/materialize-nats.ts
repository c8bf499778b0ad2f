/**
 * materialize-nats throughput, driven over stdio as the runtime drives it
 * (framed protobuf requests into `tributary run materialize-nats`), beside
 * raw ceilings measured in the same run with the same @nats-io clients:
 *
 *   kv      a standard binding into a KV bucket; ceiling: raw `kv.put` of the
 *           same values to the same keys, PUBLISH_WINDOW puts in flight.
 *   stream  a delta binding publishing to a subject; ceiling: raw
 *           `js.publish` with acks of the same payloads, same window.
 *
 * Each mode also prints a lean ceiling: the same publishes (and, for kv, the
 * direct gets) written straight to the connection with one wildcard inbox,
 * as the connector's request pipe makes them. The named ceilings measure the
 * client's request path (a promise race, timers and stack traces per
 * request), which the connector no longer takes, so it now exceeds them;
 * the lean ones are what the server takes. Back-to-back runs (the lean
 * ceilings were added for the second), 200,000 documents,
 * load average ~13 on 2 cores (figures swing ±30 %):
 *
 *   | | before (js.publish, kv.get) | after (request pipe) |
 *   | kv, ratio to raw kv.put | 2,240 docs/s / 3,675 = 0.61 | 6,198 / 4,394 = 1.41 |
 *   | kv, to raw kv.get + kv.put | 0.83 | 1.98 |
 *   | kv, to lean puts / lean gets + puts | | 0.30 / 0.41 |
 *   | stream, ratio to raw js.publish | 3,194 / 5,182 = 0.62 | 8,702 / 4,805 = 1.81 |
 *   | stream, to lean publishes | | 0.27 |
 *   | peak RSS kv / stream | 216 / 195 MB | 175 / 142 MB |
 *
 * Where the time goes now (kv, per 20,000-document transaction, loaded
 * machine): the apply's 20,000 publishes with Nats-Msg-Id ~1.8 s, the
 * 10,000-20,000 Loads ~1.7 s (direct gets, plus a Loaded response each),
 * the Stores ~1.3 s (protocol decode, chunk framing, 12 staged chunks of
 * 512 KiB); the connector is ~45 % idle, waiting on the server, which
 * stores every document twice (stage, target) and tracks a message id per
 * apply publish. Before, two thirds of its CPU was the client's per-request
 * machinery (RequestError/TimeoutError construction, timers, a socket
 * write per request) and GC.
 *
 * BENCH_DOCS documents (default 200,000) of ~300 bytes in transactions of
 * BENCH_TXN (20,000). For kv the first half create keys and the second half
 * update them (each update Loaded first, as the runtime does); the stream
 * gets every document. BENCH_NATS_MODES picks modes (default "kv,stream").
 * Only the time between a transaction's first request and its last
 * response counts, plus the final Acknowledge that applies the last one.
 * NATS_URL selects the server (default nats://127.0.0.1:4222).
 */
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { connect, createInbox, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { Response } from "../../src/gen/materialize/materialize_pb.js";
import { CheckpointSchema } from "../../src/gen/consumer/protocol/protocol_pb.js";
import { CollectionSpecSchema, MaterializationSpecSchema } from "../../src/gen/flow/flow_pb.js";
import { peakRssMb, report, type Rate } from "./_measure.js";
import { frame, MaterializeDriver } from "./_materialize-driver.js";

const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const DOCS = Number(process.env.BENCH_DOCS ?? 200_000);
const TXN = Number(process.env.BENCH_TXN ?? 20_000);
const MODES = (process.env.BENCH_NATS_MODES ?? "kv,stream").split(",").filter(Boolean) as Array<"kv" | "stream">;
/** The connector's default publish_window, used by the ceilings too. */
const PUBLISH_WINDOW = 512;
const HALF = Math.ceil(DOCS / 2);
const enc = new TextEncoder();
const FILLER = "The quick brown fox jumps over the lazy dog while the widget factory hums along";

/** Document `i`: kv keys 0..HALF-1, written once as a create and once as an update. */
function doc(i: number, mode: "kv" | "stream"): { id: number; text: string; update: boolean } {
  const update = mode === "kv" && i >= HALF;
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

/** Sends `publish(i)` for every document of a transaction, PUBLISH_WINDOW in flight. */
async function windowed(n: number, publish: (i: number) => Promise<unknown>): Promise<void> {
  const inflight: Array<Promise<unknown>> = [];
  for (let i = 0; i < n; i++) {
    inflight.push(publish(i));
    if (inflight.length >= PUBLISH_WINDOW) await Promise.all(inflight.splice(0, PUBLISH_WINDOW >> 1));
  }
  await Promise.all(inflight);
}

/**
 * Requests the lean way the connector makes them (connectors/materialize-nats/pipe.ts),
 * written out here on its own: one wildcard inbox subscription, a counter
 * of answers awaited, PUBLISH_WINDOW at most in flight, no per-request
 * promise, timer or stack trace. Every answer is checked (a JetStream error
 * in a publish ack, a failed status on a direct get).
 */
async function leanRequests(nc: NatsConnection, n: number, request: (i: number) => [string, Uint8Array]): Promise<void> {
  const inbox = `${createInbox()}.`;
  let answered = 0;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const sub = nc.subscribe(`${inbox}*`, {
    callback: (err, msg) => {
      answered++;
      const code = msg?.headers?.code ?? 0;
      if (err) failure ??= err;
      else if (code !== 0 && code !== 404) failure ??= new Error(`status ${code}`);
      else if (code === 0 && msg!.data.length && msg!.data[2] === 0x65 /* {"error" */) failure ??= new Error(new TextDecoder().decode(msg!.data));
      if (wake && (failure || n - answered <= 0 || sent - answered <= PUBLISH_WINDOW >> 1)) {
        const w = wake;
        wake = undefined;
        w();
      }
    },
  });
  let sent = 0;
  const wait = async (to: number) => {
    while (sent - answered > to && !failure) await new Promise<void>((r) => (wake = r));
  };
  try {
    for (; sent < n; ) {
      const [subject, data] = request(sent);
      nc.publish(subject, data, { reply: inbox + sent });
      sent++;
      if (sent - answered >= PUBLISH_WINDOW) await wait(PUBLISH_WINDOW >> 1);
    }
    await wait(0);
    if (failure) throw failure;
  } finally {
    sub.unsubscribe();
  }
}

/**
 * The lean ceiling of a mode (see leanRequests): the same publishes (kv: to
 * the bucket's `$KV.<bucket>.<key>` subjects), and with `withGets` the
 * direct gets of the updated keys first.
 */
async function runLean(nc: NatsConnection, jsm: JetStreamManager, ns: string, mode: "kv" | "stream", withGets = false): Promise<Rate> {
  const bucket = `${ns}_lean`;
  if (mode === "kv") await new Kvm(jetstream(nc)).create(bucket, { history: 1 });
  else await jsm.streams.add({ name: `${ns}_lean`, subjects: [`${ns}.lean`] });
  const empty = new Uint8Array(0);
  let seconds = 0;
  let bytes = 0;
  for (let first = 0; first < DOCS; first += TXN) {
    const docs: Array<{ id: number; data: Uint8Array; update: boolean }> = [];
    for (let i = first; i < Math.min(DOCS, first + TXN); i++) {
      const d = doc(i, mode);
      docs.push({ id: d.id, data: enc.encode(d.text), update: d.update });
      bytes += d.text.length;
    }
    const start = performance.now();
    if (withGets) {
      const updates = docs.filter((d) => d.update);
      await leanRequests(nc, updates.length, (i) => [`$JS.API.DIRECT.GET.KV_${bucket}.$KV.${bucket}.${updates[i]!.id}`, empty]);
    }
    await leanRequests(nc, docs.length, (i) => [mode === "kv" ? `$KV.${bucket}.${docs[i]!.id}` : `${ns}.lean`, docs[i]!.data]);
    seconds += (performance.now() - start) / 1000;
  }
  return { docs: DOCS, bytes, seconds };
}

/**
 * The raw ceiling of a mode. With `withGets` (kv only), each transaction
 * first gets the keys it updates, as upserts must (the runtime Loads them).
 */
async function runRaw(js: JetStreamClient, jsm: JetStreamManager, ns: string, mode: "kv" | "stream", withGets = false): Promise<Rate> {
  const kv = mode === "kv" ? await new Kvm(js).create(`${ns}_raw`, { history: 1 }) : undefined;
  if (mode === "stream") await jsm.streams.add({ name: `${ns}_raw`, subjects: [`${ns}.raw`] });
  let seconds = 0;
  let bytes = 0;
  for (let first = 0; first < DOCS; first += TXN) {
    const docs: Array<{ id: number; text: string; update: boolean }> = [];
    for (let i = first; i < Math.min(DOCS, first + TXN); i++) docs.push(doc(i, mode));
    for (const d of docs) bytes += d.text.length;
    const start = performance.now();
    if (kv && withGets) {
      const updates = docs.filter((d) => d.update);
      await windowed(updates.length, (i) => kv.get(String(updates[i]!.id)));
    }
    if (kv) await windowed(docs.length, (i) => kv.put(String(docs[i]!.id), docs[i]!.text));
    else await windowed(docs.length, (i) => js.publish(`${ns}.raw`, docs[i]!.text));
    seconds += (performance.now() - start) / 1000;
  }
  return { docs: DOCS, bytes, seconds };
}

async function runConnector(ns: string, mode: "kv" | "stream"): Promise<{ rate: Rate; rssMb: number }> {
  const resource = mode === "kv" ? { bucket: `${ns}_w` } : { subject: `${ns}.w`, stream: `${ns}_w`, delta_updates: true };
  const spec = create(MaterializationSpecSchema, {
    name: `bench/${ns}`,
    configJson: enc.encode(JSON.stringify({ servers: NATS_URL, advanced: { internal_prefix: ns } })),
    bindings: [
      {
        resourceConfigJson: enc.encode(JSON.stringify(resource)),
        resourcePath: [mode === "kv" ? `${ns}_w` : `${ns}.w`],
        collection: create(CollectionSpecSchema, { name: "bench/widgets", key: ["/id"] }),
        stateKey: "widgets",
        deltaUpdates: mode === "stream",
        fieldSelection: { keys: ["id"], values: [], document: "flow_document" },
      },
    ],
  });
  const d = new MaterializeDriver("materialize-nats");
  // The delta stream is made by Apply in a real deployment; here, beforehand.
  if (mode === "stream") {
    const nc = await connect({ servers: NATS_URL });
    await (await jetstreamManager(nc)).streams.add({ name: `${ns}_w`, subjects: [`${ns}.w`] });
    await nc.close();
  }
  const ack = frame({ acknowledge: {} as never });
  await d.send(frame({ open: { materialization: spec, version: "v1", range: { keyBegin: 0, keyEnd: 0xffffffff, rClockBegin: 0, rClockEnd: 0xffffffff } } as never }));
  await d.next("opened");

  let seconds = 0;
  let bytes = 0;
  let loaded = 0;
  let expectLoaded = 0;
  let state: unknown = {};
  for (let first = 0, t = 0; first < DOCS; first += TXN, t++) {
    const loads: Buffer[] = [];
    const stores: Buffer[] = [];
    for (let i = first; i < Math.min(DOCS, first + TXN); i++) {
      const { id, text, update } = doc(i, mode);
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
    await d.send(ack);
    await d.sendAll(loads);
    await d.next("acknowledged", countLoaded);
    await d.send(frame({ flush: {} as never }));
    await d.next("flushed", countLoaded);
    await d.sendAll(stores);
    await d.send(commit);
    const started = await d.next("startedCommit");
    state = started;
    seconds += (performance.now() - start) / 1000;
  }
  void state;
  const start = performance.now();
  await d.send(ack);
  await d.next("acknowledged");
  seconds += (performance.now() - start) / 1000;
  const rssMb = peakRssMb(d.pid);
  const code = await d.close();
  if (code !== 0) throw new Error(`connector exited with ${code}`);
  if (loaded !== expectLoaded) throw new Error(`loaded ${loaded} documents, expected ${expectLoaded}`);
  return { rate: { docs: DOCS, bytes, seconds }, rssMb };
}

async function main(): Promise<void> {
  const nc = await connect({ servers: NATS_URL });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const ns = `bench_${randomBytes(3).toString("hex")}`;
  const drop = async () => {
    for await (const n of jsm.streams.names()) if (n.includes(ns)) await jsm.streams.delete(n).catch(() => undefined);
  };
  process.stdout.write(`${DOCS.toLocaleString("en-US")} docs in transactions of ${TXN.toLocaleString("en-US")}, ~${doc(0, "kv").text.length} bytes each; ${PUBLISH_WINDOW} publishes in flight\n`);
  try {
    for (const mode of MODES) {
      const raw = await runRaw(js, jsm, `${ns}_${mode}`, mode);
      const rawGets = mode === "kv" ? await runRaw(js, jsm, `${ns}_${mode}_g`, mode, true) : undefined;
      const lean = await runLean(nc, jsm, `${ns}_${mode}`, mode);
      const leanGets = mode === "kv" ? await runLean(nc, jsm, `${ns}_${mode}_g`, mode, true) : undefined;
      const { rate, rssMb } = await runConnector(`${ns}_${mode}`, mode);
      // Check the outcome: the bucket holds every key at its last version, the stream every document.
      if (mode === "kv") {
        const kv = await new Kvm(js).open(`${ns}_${mode}_w`);
        const last = await kv.get(String(HALF - 1));
        const info = await jsm.streams.info(`KV_${ns}_${mode}_w`);
        if (!last || (DOCS > 1 && !last.string().includes("rev 2")) || info.state.messages !== HALF) throw new Error(`unexpected final KV contents (${info.state.messages} keys)`);
      } else {
        const info = await jsm.streams.info(`${ns}_${mode}_w`);
        if (info.state.messages !== DOCS) throw new Error(`stream holds ${info.state.messages} messages, expected ${DOCS}`);
      }
      const label = mode === "kv" ? "materialize-nats KV upsert (ceiling: raw kv.put)" : "materialize-nats stream publish (ceiling: raw js.publish with acks)";
      report(label, rate, raw, `peak RSS ${rssMb.toFixed(0)} MB`, rssMb);
      if (rawGets) report("materialize-nats KV upsert (ceiling: raw kv.get of the updated keys, then kv.put)", rate, rawGets, `peak RSS ${rssMb.toFixed(0)} MB`, rssMb);
      const leanLabel = mode === "kv" ? "materialize-nats KV upsert (ceiling: lean pipelined KV puts)" : "materialize-nats stream publish (ceiling: lean pipelined publishes with acks)";
      report(leanLabel, rate, lean, `peak RSS ${rssMb.toFixed(0)} MB`, rssMb);
      if (leanGets) report("materialize-nats KV upsert (ceiling: lean direct gets of the updated keys, then lean KV puts)", rate, leanGets, `peak RSS ${rssMb.toFixed(0)} MB`, rssMb);
    }
  } finally {
    await drop();
    await nc.close();
  }
}

await main();
