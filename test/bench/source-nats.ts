/**
 * source-nats throughput beside its ceiling, measured in the same run on the
 * shared NATS server (NATS_URL) with a throwaway stream of BENCH_MESSAGES
 * JSON messages (default 200,000, ~240 bytes each):
 *
 *  - ceiling: a raw ordered consumer (`@nats-io/jetstream`, consume) reading
 *    the whole stream in this process, touching each payload; read before
 *    the connector and again after it, the two reads pooled (load on a
 *    shared machine drifts between phases);
 *  - source-nats as users run it: `tributary run source-nats` over stdio
 *    (protobuf), given one Open (bounded, so it ends at the stream's end),
 *    its Captured frames counted from their headers until the session ends.
 *    So the figure includes the document building, the SDK, the codec and
 *    the transport. Peak RSS is the connector process's VmHWM, sampled.
 *    Its CPU µs per document (from /proc, after the first chunk of
 *    documents) is printed beside the ceiling's: steadier than rates when
 *    the machine is loaded.
 *
 * Rates run from the first message (or document) to the last.
 *
 * Where the connector's time goes now (CPU profile of the 200,000-message
 * run, load ~10 on 2 cores, startup ~10% left out): the NATS core client
 * ~22% (protocol frame parsing, which the ceiling pays too), writes ~10%
 * (stdout frames and the pull requests' socket writes), idle ~12%,
 * source-nats's document building ~16% (the grammar check 6%, `_meta` and
 * its timestamp ~4%, the result's Uint8Array view and the slab copy ~4%),
 * its reader ~4%, GC ~6%, the SDK, codec and metrics ~4%.
 *
 * This round (issue 16, target ≥ 0.6): documents are UTF-8 bytes
 * (RawJsonBytes) — the payload's bytes grammar-checked and copied after
 * `_meta` written from cached byte pieces, no string made, measured or
 * re-encoded; the reader pulls on the core connection itself instead of
 * through the client's ordered consumer (which wrapped each message and
 * split its reply subject into eleven strings, ~10% of the CPU); strings
 * in the grammar check skipped with one table lookup a byte; the
 * timestamp read in place from the reply. Before → after, 200,000
 * messages, `--repeat 3` back to back, load 11–12 on 2 cores:
 * ratio 0.53 / 0.37 / 0.70 (median 0.53) → 0.72 / 0.58 / 0.71 (median
 * 0.71); connector CPU 11.0 / 12.1 / 10.6 → 6.8 / 7.3 / 6.8 µs per
 * document, against the ceiling's 4.7–5.9 µs per message (CPU ratio
 * 0.47–0.56 → 0.70–0.76); peak RSS 146–158 → 134–136 MB. A run just
 * before, load ~9: median 0.65. Final `--repeat 3` after the reader's
 * last fixes, load 10.5: 0.66 / 0.69 / 0.79 (median 0.69), 8.3 / 7.0 /
 * 6.9 µs per document against the ceiling's 4.6–5.0.
 *
 * Earlier round (payloads checked, not parsed; _meta from cached pieces;
 * pulls by callback and asked for at once), load 18–22: ratio 0.27 / 0.34
 * / 0.32 before, 0.33 / 0.49 / 0.53 after; connector CPU 19.3 / 14.8 /
 * 17.6 µs per document before, 14.1 / 11.0 / 12.1 after.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { RequestSchema } from "../../src/gen/capture/capture_pb.js";
import { messageCodec } from "../../src/codec/wire.js";
import { FrameDecoder, FrameWriter } from "../../src/codec/frames.js";
import { buildCapture, catalogFromObject, fullRange } from "../../src/harness/index.js";
import { createLogger } from "../../src/log.js";
import { documentSchema } from "../../connectors/source-nats/documents.js";
import { natsConfig, testNats } from "../../connectors/source-nats/test-support.js";
import { cpuSeconds, peakRssMb, report, type Rate } from "./_measure.js";

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200_000);
const REPO = fileURLToPath(new URL("../../..", import.meta.url));
const quiet = createLogger({ level: "warn" });
const requests = messageCodec(RequestSchema, "proto");
/** Response.captured is field 6, length-delimited. */
const CAPTURED_TAG = (6 << 3) | 2;

const fmtRate = (r: Rate) => `${Math.round(r.docs / r.seconds / 1000)}k/s`;

const payload = (i: number) =>
  JSON.stringify({
    id: i,
    customer: `customer-${i % 1000}`,
    total: (i * 7.31) % 1000,
    paid: i % 2 === 0,
    placed: "2024-05-01T12:34:56.789Z",
    items: [{ sku: `sku-${i % 97}`, qty: (i % 5) + 1, note: "a little text to make the document the usual size" }],
    tags: ["bench", "nats", `t${i % 13}`],
  });

/** One raw ordered-consumer read of the whole stream: its rate and CPU µs per message. */
async function rawRead(nats: Awaited<ReturnType<typeof testNats>>, stream: string): Promise<{ rate: Rate; cpuUs: number }> {
  const consumer = await nats.js.consumers.get(stream, {});
  const it = await consumer.consume({ max_messages: 2000 });
  let n = 0;
  let rawBytes = 0;
  let first = 0;
  let firstCpu = process.cpuUsage();
  for await (const m of it) {
    if (n++ === 0) {
      first = performance.now();
      firstCpu = process.cpuUsage();
    }
    rawBytes += m.data.length;
    if (n === MESSAGES) break;
  }
  const rate: Rate = { docs: n, bytes: rawBytes, seconds: (performance.now() - first) / 1000 };
  const used = process.cpuUsage(firstCpu);
  await consumer.delete().catch(() => undefined);
  return { rate, cpuUs: (used.user + used.system) / n };
}

async function main() {
  const nats = await testNats();
  try {
    const stream = await nats.stream("bench_nats");
    let bytes = 0;
    const window: Promise<unknown>[] = [];
    for (let i = 1; i <= MESSAGES; i++) {
      const p = payload(i);
      bytes += p.length;
      window.push(nats.js.publish(`${stream}.orders`, p));
      if (window.length >= 2000) await Promise.all(window.splice(0));
    }
    await Promise.all(window);
    process.stdout.write(`stream ${stream}: ${MESSAGES.toLocaleString("en-US")} messages, ${(bytes / 1e6).toFixed(1)} MB of payload\n`);

    // Ceiling: a raw ordered consumer over the same stream, read before the
    // connector and again after it (load on a shared machine drifts).
    const before = await rawRead(nats, stream);
    // source-nats over stdio.
    const config = natsConfig({ bounded: true });
    const built = await buildCapture(
      catalogFromObject({
        collections: { "bench/orders": { schema: documentSchema(stream, [], undefined), key: ["/_meta/seq"] } },
        captures: {
          "bench/nats": {
            endpoint: { connector: { image: "ghcr.io/estuary/source-nats:dev", config } },
            bindings: [{ resource: { stream }, target: "bench/orders" }],
          },
        },
      }),
      "bench/nats",
      { log: quiet, logLevel: "warn" },
    );
    // BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the connector.
    const nodeArgs = process.env.BENCH_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
    const child = spawn(process.execPath, [...nodeArgs, `${REPO}bin/tributary`, "run", "source-nats"], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, FLOW_RUNTIME_CODEC: "proto", LOG_LEVEL: "warn" },
    });
    let stderr = "";
    child.stderr.on("data", (b) => (stderr = (stderr + b).slice(-4000)));
    let docs = 0;
    let docBytes = 0;
    let firstDoc = 0;
    let lastDoc = 0;
    let rss = 0;
    // The connector's CPU time from the first chunk of documents to the last
    // document, per document after that chunk: under load, steadier than its rate.
    let cpuAtFirst = NaN;
    let cpuAtLast = NaN;
    let docsAtFirst = 0;
    const sampler = setInterval(() => (rss = Math.max(rss, peakRssMb(child.pid) || 0)), 100);
    const dec = new FrameDecoder("proto");
    child.stdout.on("data", (chunk: Buffer) => {
      if (docs > 0 && docsAtFirst === 0) docsAtFirst = docs;
      for (const f of dec.push(chunk)) {
        if (f[0] !== CAPTURED_TAG) continue;
        if (docs++ === 0) {
          firstDoc = performance.now();
          cpuAtFirst = cpuSeconds(child.pid);
        }
        lastDoc = performance.now();
        if (docs === MESSAGES) cpuAtLast = cpuSeconds(child.pid);
        docBytes += f.length;
      }
    });
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    const w = new FrameWriter("proto");
    w.append(requests.encode(create(RequestSchema, { open: { capture: built.spec, version: built.version, range: fullRange(), stateJson: "{}" } })));
    child.stdin.write(Buffer.from(w.take()));
    const code = await exited;
    clearInterval(sampler);
    if (code !== 0 || docs !== MESSAGES) throw new Error(`source-nats exited ${code} after ${docs} of ${MESSAGES} documents: ${stderr}`);
    const measured: Rate = { docs, bytes: docBytes, seconds: (lastDoc - firstDoc) / 1000 };
    const after = await rawRead(nats, stream);
    const ceiling: Rate = {
      docs: before.rate.docs + after.rate.docs,
      bytes: before.rate.bytes + after.rate.bytes,
      seconds: before.rate.seconds + after.rate.seconds,
    };
    const ceilingCpuUs = (before.cpuUs + after.cpuUs) / 2;
    const cpuUs = ((cpuAtLast - cpuAtFirst) * 1e6) / (docs - docsAtFirst);
    const rates = `ceiling before ${fmtRate(before.rate)}, after ${fmtRate(after.rate)}`;
    const cpu = `CPU ${cpuUs.toFixed(1)} µs/doc vs ceiling ${ceilingCpuUs.toFixed(1)} µs/msg (CPU ratio ${(ceilingCpuUs / cpuUs).toFixed(2)})`;
    report("source-nats read over stdio (bounded)", measured, ceiling, `peak RSS ${rss.toFixed(0)} MB | ${rates} | ${cpu}`, rss);
  } finally {
    await nats.close();
  }
}

await main();
