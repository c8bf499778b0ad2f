/**
 * source-nats throughput beside its ceiling, measured in the same run on the
 * shared NATS server (NATS_URL) with a throwaway stream of BENCH_MESSAGES
 * JSON messages (default 200,000, ~300 bytes each):
 *
 *  - ceiling: a raw ordered consumer (`@nats-io/jetstream`, consume) reading
 *    the whole stream in this process, touching each payload;
 *  - source-nats as users run it: `tributary run source-nats` over stdio
 *    (protobuf), given one Open (bounded, so it ends at the stream's end),
 *    its Captured frames counted from their headers until the session ends.
 *    So the figure includes the document building, the SDK, the codec and
 *    the transport. Peak RSS is the connector process's VmHWM, sampled.
 *
 * Rates run from the first message (or document) to the last.
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
import { peakRssMb, report, type Rate } from "./_measure.js";

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200_000);
const REPO = fileURLToPath(new URL("../../..", import.meta.url));
const quiet = createLogger({ level: "warn" });
const requests = messageCodec(RequestSchema, "proto");
/** Response.captured is field 6, length-delimited. */
const CAPTURED_TAG = (6 << 3) | 2;

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

    // Ceiling: a raw ordered consumer over the same stream.
    const consumer = await nats.js.consumers.get(stream, {});
    const it = await consumer.consume({ max_messages: 2000 });
    let n = 0;
    let rawBytes = 0;
    let first = 0;
    for await (const m of it) {
      if (n++ === 0) first = performance.now();
      rawBytes += m.data.length;
      if (n === MESSAGES) break;
    }
    const ceiling: Rate = { docs: n, bytes: rawBytes, seconds: (performance.now() - first) / 1000 };
    await consumer.delete().catch(() => undefined);

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
    const sampler = setInterval(() => (rss = Math.max(rss, peakRssMb(child.pid) || 0)), 100);
    const dec = new FrameDecoder("proto");
    child.stdout.on("data", (chunk: Buffer) => {
      for (const f of dec.push(chunk)) {
        if (f[0] !== CAPTURED_TAG) continue;
        if (docs++ === 0) firstDoc = performance.now();
        lastDoc = performance.now();
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
    report("source-nats read over stdio (bounded)", measured, ceiling, `peak RSS ${rss.toFixed(0)} MB`, rss);
  } finally {
    await nats.close();
  }
}

await main();
