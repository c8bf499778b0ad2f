/**
 * How fast a capture's documents leave through the gRPC transport.
 *
 * source-hello-world at full speed behind `tributary serve` (SDK, codec,
 * grpc-js server) is measured over loopback against the raw ceiling of the
 * same machine: a bare grpc-js server process (_grpc-raw-server) streaming
 * the same Captured message, pre-encoded. The client is the same in both
 * cases and only counts message bytes, decoding nothing.
 * BENCH_DOCS sets the number of documents (default 300,000).
 *
 * Where the server's time goes (node --cpu-prof of `tributary serve`, 2026-12-06,
 * loaded machine): ~45 % is grpc-js and HTTP/2 writing one DATA frame per
 * message (the same work the raw server does), ~9 % encoding Captured
 * (codec), ~5 % the SDK's document() and hello-world's generator. The
 * transport used to wait for grpc-js's 'drain' every 16 messages, which only
 * comes once every queued message is written, so the stream ran dry at each
 * wait; it now encodes responses itself and waits only when more than 1 MiB
 * is unwritten, resuming at half (median of 3 under load: 0.90 → 0.94).
 */
import * as grpc from "@grpc/grpc-js";
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { RequestSchema } from "../../src/gen/capture/capture_pb.js";
import { messageCodec } from "../../src/codec/wire.js";
import { peakRssMb, report, type Rate } from "./_measure.js";

const REPO = fileURLToPath(new URL("../../..", import.meta.url));
const HERE = fileURLToPath(new URL(".", import.meta.url));
const DOCS = Number(process.env.BENCH_DOCS ?? 300_000);

/** Starts a server process and waits for its `listening on host:port` line. */
function startServer(argv: string[], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; address: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      const m = /^listening on (\S+)$/.exec(line);
      if (m) resolve({ child, address: m[1]! });
    });
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`${argv.join(" ")} exited ${code} before listening`)));
  });
}

function openRequest(): Buffer {
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
  return Buffer.from(messageCodec(RequestSchema, "proto").encode(open));
}

/** Opens the capture stream on `address` and counts response messages until `docs` arrived. */
function drain(address: string, docs: number): Promise<Rate> {
  const identity = (b: Buffer) => b;
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), { "grpc.max_receive_message_length": -1 });
  const call = client.makeBidiStreamRequest<Buffer, Buffer>("/capture.Connector/Capture", identity, identity);
  return new Promise((resolve, reject) => {
    let messages = 0;
    let bytes = 0;
    let start = 0;
    let done = false;
    call.on("data", (msg: Buffer) => {
      if (done) return;
      if (!start) start = performance.now();
      messages++;
      bytes += msg.length;
      if (messages >= docs) {
        done = true;
        const seconds = (performance.now() - start) / 1000;
        call.cancel();
        client.close();
        resolve({ docs: messages, bytes, seconds });
      }
    });
    call.on("error", (err: grpc.ServiceError) => !done && reject(new Error(`capture stream on ${address} failed after ${messages} messages: ${err.message}`)));
    call.on("end", () => !done && reject(new Error(`capture stream on ${address} ended after ${messages} messages`)));
    call.write(openRequest());
  });
}

async function measure(argv: string[], env: NodeJS.ProcessEnv): Promise<Rate & { rss: number }> {
  const { child, address } = await startServer(argv, env);
  try {
    const rate = await drain(address, DOCS);
    return { ...rate, rss: peakRssMb(child.pid) };
  } finally {
    child.removeAllListeners("exit");
    child.kill("SIGKILL");
  }
}

const ceiling = await measure([`${HERE}_grpc-raw-server.js`], {});
const measured = await measure([`${REPO}bin/tributary`, "serve", "source-hello-world", "--port", "0"], { LOG_LEVEL: "warn" });
report(
  `gRPC capture over loopback (${DOCS.toLocaleString("en-US")} docs)`,
  measured,
  ceiling,
  `peak RSS ${measured.rss.toFixed(0)} MB (raw server ${ceiling.rss.toFixed(0)} MB)`,
  measured.rss,
);
