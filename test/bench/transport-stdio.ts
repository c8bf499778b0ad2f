/**
 * How fast a capture's documents leave through the stdio transport.
 *
 * source-hello-world at full speed is measured end to end (SDK, codec,
 * framing, buffered stdout) against the raw ceiling of the same machine: a
 * process writing the same frames, pre-encoded, to the same kind of pipe.
 * The reader only splits frames in both cases. A second measurement runs a
 * capture whose documents are JSON text already (_raw-capture.ts): the
 * codec path alone, without the connector's JSON.stringify per document.
 * Each line also gives documents per CPU-second of the measured process,
 * steadier than wall time on a loaded machine.
 * BENCH_DOCS sets the number of documents (default 2,000,000).
 *
 * Where the time goes (CPU profiles of the connector process, `node
 * --cpu-prof`, 2M documents of 44 bytes, proto):
 *  - Before issue 17's second round (0.08-0.11 of the raw pipe): 22% in
 *    prom-client's labelled Counter.inc, twice per document (metrics of
 *    `tributary run`); 19% encoding each document into a buffer of its own
 *    (Buffer.byteLength + allocUnsafe + write, then a copy into the frame
 *    batch); 17% JSON.stringify of the connector's document objects; 11%
 *    GC; a microtask turn per document (`await` of a sink that had
 *    nothing to wait for); 12% the write(2) of each checkpoint's batch.
 *  - Now: metrics are plain tallies moved into the counters when read;
 *    Captured/Loaded frames are written in place into the batch (one native
 *    write of the text, no per-document buffer); documents are awaited
 *    only when the sink pushes back. Syscalls are one write per checkpoint
 *    or per MiB, as before (the ceiling makes one per 1,024 frames).
 *  - What is left in the end-to-end line is the connector's own work:
 *    JSON.stringify (about 20%) and building its document objects
 *    (5-8%), plus GC of them. The codec-path line (documents already JSON
 *    text) shows the transport itself: about 1.7M documents per CPU-second
 *    with the protocol's per-document response objects (GC about 13%), the
 *    checkpoint write(2) and process start-up taking the rest.
 *  - Issue 17, capture output round (documents per CPU-second of the
 *    connector, two back-to-back pairs on a machine at load 17-25, where
 *    wall-time ratios swung 3x with the ceiling): documents reach the stdio
 *    sink as (binding, text) (ResponseSink.sendCaptured) instead of a
 *    Response and a Captured object per document that the metrics wrapper
 *    and the framer then inspected; batches start at 2 MiB instead of
 *    growing (a 1 MiB copy) at their last message; up to 2 MiB of batches
 *    stay in flight instead of waiting for stdout to drain at each one.
 *    Before -> after: proto end to end 639k/597k -> 656k/712k docs per
 *    CPU-second, proto codec path 1250k/996k -> 1316k/1515k, JSON end to
 *    end 479k/669k -> 585k/673k, JSON codec path 1440k/1291k -> 1575k/1626k.
 *    Peak RSS of the codec path 74-75 -> 81-85 MB (bigger batches, in flight).
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { RequestSchema, ResponseSchema } from "../../src/gen/capture/capture_pb.js";
import { messageCodec, type WireCodec } from "../../src/codec/wire.js";
import { FrameDecoder, FrameWriter } from "../../src/codec/frames.js";
import { cpuSeconds, peakRssMb, report, type Rate } from "./_measure.js";

const REPO = fileURLToPath(new URL("../../..", import.meta.url));
const DOCS = Number(process.env.BENCH_DOCS ?? 2_000_000);

/** Reads frames from a child's stdout until `docs` frames arrived. */
function drain(argv: string[], env: NodeJS.ProcessEnv, wire: WireCodec, input: Uint8Array | undefined, docs: number): Promise<Rate & { rss: number; cpu: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "inherit"] });
    const dec = new FrameDecoder(wire);
    let frames = 0;
    let bytes = 0;
    let start = 0;
    let done = false;
    child.stdout.on("data", (chunk: Buffer) => {
      if (done) return;
      if (!start) start = performance.now();
      bytes += chunk.length;
      frames += dec.push(chunk).length;
      if (frames >= docs) {
        done = true;
        const seconds = (performance.now() - start) / 1000;
        const rss = peakRssMb(child.pid);
        const cpu = cpuSeconds(child.pid);
        child.kill("SIGKILL");
        resolve({ docs: frames, bytes, seconds, rss, cpu });
      }
    });
    child.on("error", reject);
    child.on("exit", (code) => !done && reject(new Error(`${argv.join(" ")} exited ${code} after ${frames} frames`)));
    if (input) child.stdin.write(input);
  });
}

function openRequest(wire: WireCodec): Uint8Array {
  const codec = messageCodec(RequestSchema, wire);
  const enc = new TextEncoder();
  const open = create(RequestSchema, {
    open: {
      capture: {
        name: "bench/hello",
        configJson: enc.encode('{"rate":0,"perCheckpoint":1000}'),
        bindings: [{ resourceConfigJson: enc.encode('{"name":"greetings"}'), resourcePath: ["greetings"], stateKey: "greetings", collection: { name: "bench/greetings", key: ["/count"] } }],
      },
    },
  });
  const w = new FrameWriter(wire);
  w.append(codec.encode(open));
  return w.take();
}

/** A writer of pre-encoded frames, like the ones hello-world sends. */
function ceilingScript(wire: WireCodec): string {
  const codec = messageCodec(ResponseSchema, wire);
  const res = create(ResponseSchema, { captured: { binding: 0, docJson: '{"count":1234567,"message":"Hello #1234567"}' } });
  const w = new FrameWriter(wire);
  for (let i = 0; i < 1024; i++) w.append(codec.encode(res));
  const chunk = w.take().toString("base64");
  return `const b=Buffer.from("${chunk}","base64");const out=process.stdout;(function go(){while(out.write(b));out.once("drain",go)})();`;
}

const perCpu = (r: { docs: number; cpu: number }) => `${Math.round(r.docs / r.cpu / 1000)}k docs per CPU-second`;

for (const wire of ["proto", "json"] as const) {
  const ceiling = await drain(["node", "-e", ceilingScript(wire)], {}, wire, undefined, DOCS);
  const measured = await drain(
    ["node", `${REPO}bin/tributary`, "run", "source-hello-world"],
    { FLOW_RUNTIME_CODEC: wire, LOG_LEVEL: "warn" },
    wire,
    openRequest(wire),
    DOCS,
  );
  report(`stdio capture, ${wire} codec (${DOCS.toLocaleString("en-US")} docs)`, measured, ceiling, `peak RSS ${measured.rss.toFixed(0)} MB, ${perCpu(measured)}`, measured.rss);
  // The codec path alone: documents that are JSON text already (no JSON.stringify per document).
  const raw = await drain(["node", fileURLToPath(new URL("./_raw-capture.js", import.meta.url))], { FLOW_RUNTIME_CODEC: wire, LOG_LEVEL: "warn" }, wire, openRequest(wire), DOCS);
  report(`stdio codec path (raw JSON docs), ${wire} codec`, raw, ceiling, `peak RSS ${raw.rss.toFixed(0)} MB, ${perCpu(raw)}`, raw.rss);
}
