/**
 * Drives a materialization process over stdio in the protobuf codec, as the
 * runtime does, for the benchmarks: framed requests in, responses read and
 * waited for by kind. The connector runs as `tributary run <name>`;
 * BENCH_NODE_ARGS passes flags such as --cpu-prof to its node.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { RequestSchema, ResponseSchema, type Request, type Response } from "../../src/gen/materialize/materialize_pb.js";
import { messageCodec } from "../../src/codec/wire.js";
import { FrameDecoder, FrameWriter } from "../../src/codec/frames.js";

/** The repository root: the nearest folder above this file holding bin/tributary (from dist/ or from the sources). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "bin", "tributary"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find the repository root (bin/tributary) above " + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir + "/";
}
const REPO = repoRoot();
const requestCodec = messageCodec(RequestSchema, "proto");
const responseCodec = messageCodec(ResponseSchema, "proto");

/** One request, framed for stdin. */
export function frame(req: Partial<Request>): Buffer {
  const w = new FrameWriter("proto");
  w.append(requestCodec.encode(create(RequestSchema, req as never)));
  return w.take();
}

const kindsOf = (r: Response) => Object.keys(r).filter((k) => (r as never)[k] !== undefined && k !== "$typeName" && k !== "internal");

export class MaterializeDriver {
  private readonly child: ChildProcess;
  private readonly responses: Response[] = [];
  private head = 0;
  private wake: (() => void) | undefined;
  private exited = false;

  constructor(connector: string) {
    const node = [process.execPath, ...(process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean)];
    this.child = spawn(node[0]!, [...node.slice(1), `${REPO}bin/tributary`, "run", connector], {
      stdio: ["pipe", "pipe", "inherit"],
      env: { ...process.env, FLOW_RUNTIME_CODEC: "proto", LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" },
    });
    const dec = new FrameDecoder("proto");
    this.child.stdout!.on("data", (chunk: Buffer) => {
      for (const f of dec.push(chunk)) this.responses.push(responseCodec.decode(f));
      this.wake?.();
    });
    this.child.on("exit", () => {
      this.exited = true;
      this.wake?.();
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  async send(buf: Buffer): Promise<void> {
    if (!this.child.stdin!.write(buf)) await new Promise((r) => this.child.stdin!.once("drain", r));
  }

  /** Sends many frames, a few hundred per write. */
  async sendAll(frames: Buffer[]): Promise<void> {
    for (let i = 0; i < frames.length; i += 512) await this.send(Buffer.concat(frames.slice(i, i + 512)));
  }

  /** Waits for a response of `kind`, passing any other to `other` (an error without it). */
  async next(kind: keyof Response, other?: (r: Response) => void): Promise<Response> {
    for (;;) {
      while (this.head < this.responses.length) {
        const r = this.responses[this.head++]!;
        // Taken in order by index: shift() on a queue of 100k+ responses copies the rest each time.
        if (this.head === this.responses.length) {
          this.responses.length = 0;
          this.head = 0;
        }
        if (r[kind] !== undefined) return r;
        if (other) other(r);
        else throw new Error(`expected ${String(kind)}, got ${JSON.stringify(kindsOf(r))}`);
      }
      if (this.exited) throw new Error(`connector exited while waiting for ${String(kind)}`);
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** Closes stdin and resolves with the exit code. */
  async close(): Promise<number | null> {
    this.child.stdin!.end();
    if (!this.exited) await new Promise((r) => this.child.once("exit", r));
    return this.child.exitCode;
  }
}
