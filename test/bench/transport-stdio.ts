/**
 * How fast a capture's documents leave through the stdio transport.
 *
 * source-hello-world at full speed is measured end to end (SDK, codec,
 * framing, buffered stdout) against the raw ceiling of the same machine: a
 * process writing the same frames, pre-encoded, to the same kind of pipe.
 * The reader only splits frames in both cases.
 * BENCH_DOCS sets the number of documents (default 2,000,000).
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { RequestSchema, ResponseSchema } from "../../src/gen/capture/capture_pb.js";
import { messageCodec, type WireCodec } from "../../src/codec/wire.js";
import { FrameDecoder, FrameWriter } from "../../src/codec/frames.js";
import { peakRssMb, report, type Rate } from "./_measure.js";

const REPO = fileURLToPath(new URL("../../..", import.meta.url));
const DOCS = Number(process.env.BENCH_DOCS ?? 2_000_000);

/** Reads frames from a child's stdout until `docs` frames arrived. */
function drain(argv: string[], env: NodeJS.ProcessEnv, wire: WireCodec, input: Uint8Array | undefined, docs: number): Promise<Rate & { rss: number }> {
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
        child.kill("SIGKILL");
        resolve({ docs: frames, bytes, seconds, rss });
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

for (const wire of ["proto", "json"] as const) {
  const ceiling = await drain(["node", "-e", ceilingScript(wire)], {}, wire, undefined, DOCS);
  const measured = await drain(
    ["node", `${REPO}bin/tributary`, "run", "source-hello-world"],
    { FLOW_RUNTIME_CODEC: wire, LOG_LEVEL: "warn" },
    wire,
    openRequest(wire),
    DOCS,
  );
  report(`stdio capture, ${wire} codec (${DOCS.toLocaleString("en-US")} docs)`, measured, ceiling, `peak RSS ${measured.rss.toFixed(0)} MB`, measured.rss);
}
