/**
 * Drives a connector process over its stdio the way Flow's runtime does:
 * framed requests on stdin, framed responses read from stdout, stderr kept
 * for assertions on logs and errors.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { messageCodec, type WireCodec } from "../../src/codec/wire.js";
import { FrameDecoder, FrameWriter } from "../../src/codec/frames.js";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));
export const TRIBUTARY = `${REPO}bin/tributary`;

export class ConnectorProcess<Req extends DescMessage, Res extends DescMessage> {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<number | null>;
  private readonly responses: MessageShape<Res>[] = [];
  private readonly decoder: FrameDecoder;
  private waiter?: () => void;
  private stderrText = "";
  private readonly req;
  private readonly res;

  constructor(argv: string[], private readonly wire: WireCodec, reqSchema: Req, resSchema: Res, env: NodeJS.ProcessEnv = {}) {
    this.req = messageCodec(reqSchema, wire);
    this.res = messageCodec(resSchema, wire);
    this.decoder = new FrameDecoder(wire);
    this.child = spawn(argv[0]!, argv.slice(1), {
      env: { ...process.env, LOG_LEVEL: "info", ...env, FLOW_RUNTIME_CODEC: wire === "json" ? "json" : "proto" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stdout.on("data", (chunk: Buffer) => {
      for (const f of this.decoder.push(chunk)) this.responses.push(this.res.decode(f));
      this.waiter?.();
    });
    this.child.stderr.on("data", (chunk: Buffer) => (this.stderrText += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.on("close", (code) => { this.waiter?.(); resolve(code); }));
    this.child.stdin.on("error", () => {}); // the process may exit before reading everything
  }

  send(...msgs: MessageShape<Req>[]): void {
    const w = new FrameWriter(this.wire);
    for (const m of msgs) w.append(this.req.encode(m));
    this.child.stdin.write(w.take());
  }

  /** Writes raw bytes to stdin (for malformed-input tests). */
  sendRaw(bytes: Uint8Array | string): void {
    this.child.stdin.write(bytes);
  }

  close(): void {
    this.child.stdin.end();
  }

  get received(): MessageShape<Res>[] {
    return this.responses;
  }

  get stderr(): string {
    return this.stderrText;
  }

  /** The last line written to stderr, parsed as a JSON log line when possible. */
  lastLog(): { level?: string; msg?: string } {
    const lines = this.stderrText.trim().split("\n");
    const last = lines[lines.length - 1] ?? "";
    try {
      return JSON.parse(last);
    } catch {
      return { msg: last };
    }
  }

  /** Waits until `pred` holds over the responses received so far. */
  async until(pred: (rs: MessageShape<Res>[]) => boolean, timeoutMs = 15000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.responses)) {
      if (this.child.exitCode !== null) throw new Error(`connector exited (${this.child.exitCode}) while waiting; stderr:\n${this.stderrText}`);
      if (Date.now() > deadline) throw new Error(`timed out with ${this.responses.length} responses; stderr:\n${this.stderrText}`);
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 50);
      });
    }
  }

  kill(): void {
    this.child.kill("SIGKILL");
  }
}
