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
import { FrameWriter } from "../../src/codec/frames.js";

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

/** materialize.Response's `loaded` field (5), length-delimited. */
const LOADED_TAG = (5 << 3) | 2;

/** A varint of at most 5 bytes at b[i], or -1; its end in `varintEnd`. */
let varintEnd = 0;
function varint(b: Uint8Array, i: number, end: number): number {
  let v = 0;
  for (let shift = 0; shift <= 28 && i < end; shift += 7) {
    const c = b[i++]!;
    v += (c & 0x7f) * 2 ** shift;
    if (c < 0x80) {
      varintEnd = i;
      return v;
    }
  }
  return -1;
}

/**
 * A Loaded response read in place, as the runtime reads one: its binding
 * and its document's bytes (b[start..end)), every field checked. False when
 * the payload is anything else (the general decoder then takes it).
 */
function readLoaded(b: Uint8Array, start: number, end: number, onLoaded: (binding: number, doc: Uint8Array, docStart: number, docEnd: number) => void): boolean {
  if (b[start] !== LOADED_TAG) return false;
  const inner = varint(b, start + 1, end);
  let i = varintEnd;
  if (inner < 0 || i + inner !== end) return false;
  let binding = 0;
  let docStart = i;
  let docEnd = i;
  while (i < end) {
    const t = b[i++];
    if (t === 0x08) {
      binding = varint(b, i, end);
      if (binding < 0) return false;
      i = varintEnd;
    } else if (t === 0x12) {
      const len = varint(b, i, end);
      if (len < 0 || varintEnd + len > end) return false;
      docStart = varintEnd;
      docEnd = i = docStart + len;
    } else {
      return false;
    }
  }
  onLoaded(binding, b, docStart, docEnd);
  return true;
}

const EMPTY = Buffer.alloc(0);

const kindsOf = (r: Response) => Object.keys(r).filter((k) => (r as never)[k] !== undefined && k !== "$typeName" && k !== "internal");

export class MaterializeDriver {
  private readonly child: ChildProcess;
  private readonly responses: Response[] = [];
  private head = 0;
  private wake: (() => void) | undefined;
  private exited = false;
  /** Bytes of a frame not yet whole. */
  private rest: Buffer = Buffer.alloc(0);
  /**
   * When set, Loaded responses go here, read in place (see readLoaded),
   * instead of being decoded into messages for next().
   */
  onLoaded: ((binding: number, doc: Uint8Array, docStart: number, docEnd: number) => void) | undefined;

  constructor(connector: string) {
    const node = [process.execPath, ...(process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean)];
    this.child = spawn(node[0]!, [...node.slice(1), `${REPO}bin/tributary`, "run", connector], {
      stdio: ["pipe", "pipe", "inherit"],
      env: { ...process.env, FLOW_RUNTIME_CODEC: "proto", LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" },
    });
    this.child.stdout!.on("data", (chunk: Buffer) => {
      this.frames(chunk);
      this.wake?.();
    });
    this.child.on("exit", () => {
      this.exited = true;
      this.wake?.();
    });
  }

  /** Takes the whole frames of stdout's bytes so far: 4-byte little-endian length, then the payload. */
  private frames(chunk: Buffer): void {
    const b = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
    const n = b.length;
    let pos = 0;
    while (n - pos >= 4) {
      const len = b.readUInt32LE(pos);
      const end = pos + 4 + len;
      if (end > n) break;
      const onLoaded = this.onLoaded;
      if (onLoaded === undefined || !readLoaded(b, pos + 4, end, onLoaded)) this.responses.push(responseCodec.decode(b.subarray(pos + 4, end)));
      pos = end;
    }
    this.rest = pos === n ? EMPTY : b.subarray(pos);
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
