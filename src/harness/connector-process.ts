/**
 * One connector process driven over stdio, as Flow's runtime drives a local
 * connector (or connector-init drives an image's entrypoint): framed
 * requests on stdin, framed responses on stdout, JSON logs on stderr.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Logger } from "../log.js";
import { ConnectorFailed, ProtocolViolation } from "./errors.js";
import type { ConnectorEndpoint } from "./catalog.js";
import type { ProtocolWire } from "./wire.js";

export interface SpawnOptions {
  log: Logger;
  /** Names this process in logs, e.g. "capture session 2". */
  label: string;
  logLevel?: string;
}

/** Decoded responses held before the harness stops reading the connector's output (backpressure). */
const QUEUE_HIGH = 20_000;
const QUEUE_LOW = 5_000;

export class ConnectorProcess<Req, Res> {
  readonly child: ChildProcess;
  private readonly queue: Res[] = [];
  private failure: Error | undefined;
  private stdoutEnded = false;
  /** Set when stdout ended inside a message: a violation only if the process then exits 0. */
  private truncated: string | undefined;
  private waiter: (() => void) | undefined;
  private lastLog = "";
  private lastErrorLog = "";
  private killed = false;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Responses received, by variant name (for stats). */
  received = 0;

  constructor(
    endpoint: ConnectorEndpoint,
    private readonly wire: ProtocolWire<Req, Res>,
    private readonly opts: SpawnOptions,
  ) {
    const [cmd, ...args] = endpoint.command;
    this.child = spawn(cmd!, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: {
        ...process.env,
        ...endpoint.env,
        FLOW_RUNTIME_CODEC: wire.codec === "json" ? "json" : "proto",
        LOG_FORMAT: "json",
        LOG_LEVEL: opts.logLevel ?? endpoint.logLevel ?? process.env.LOG_LEVEL ?? "info",
      },
    });
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        resolve({ code, signal });
        this.wake();
      });
      this.child.once("error", (err) => {
        this.failure ??= new ConnectorFailed(`cannot start connector ${JSON.stringify(endpoint.command.join(" "))}: ${err.message}`, null, null, "");
        this.stdoutEnded = true;
        resolve({ code: null, signal: null });
        this.wake();
      });
    });
    // A connector that exits early closes its stdin; later writes fail with EPIPE, reported via exit.
    this.child.stdin!.on("error", () => {});

    const decoder = wire.newDecoder();
    this.child.stdout!.on("data", (chunk: Buffer) => {
      if (this.failure) return;
      try {
        for (const payload of decoder.push(chunk)) {
          this.queue.push(this.decodeOne(payload));
          this.received++;
        }
        if (this.queue.length > QUEUE_HIGH) this.child.stdout!.pause();
      } catch (err) {
        this.failure = err as Error;
      }
      this.wake();
    });
    this.child.stdout!.on("end", () => {
      try {
        decoder.finish();
      } catch (err) {
        // A process killed by a signal (or crashing) also ends mid-message;
        // next() decides once the exit status is known.
        this.truncated = (err as Error).message;
      }
      this.stdoutEnded = true;
      this.wake();
    });

    let partial = "";
    this.child.stderr!.setEncoding("utf8");
    this.child.stderr!.on("data", (text: string) => {
      const lines = (partial + text).split("\n");
      partial = lines.pop()!;
      for (const line of lines) this.onLogLine(line);
    });
    this.child.stderr!.on("end", () => {
      if (partial) this.onLogLine(partial);
    });
  }

  private decodeOne(payload: Uint8Array): Res {
    try {
      return this.wire.decode(payload);
    } catch (err) {
      throw new ProtocolViolation("response", "undecodable-message", `cannot decode a response (${this.wire.codec}): ${(err as Error).message}`);
    }
  }

  private onLogLine(line: string) {
    if (!line.trim()) return;
    // Unstructured text is taken as a log line; one that names an error
    // (e.g. "TypeError: ..." of a crash) counts as an error line.
    let level = /\b(\w*Error|error|panic|fatal)\b/.test(line) && !/^\s+at /.test(line) ? "error" : "info";
    let msg = line;
    let fields: Record<string, unknown> = {};
    try {
      const obj = JSON.parse(line);
      if (obj && typeof obj === "object") {
        const { level: lv, lvl, msg: m, message, ts: _ts, time: _time, ...rest } = obj as Record<string, any>;
        level = String(lv ?? lvl ?? "info").toLowerCase();
        msg = String(m ?? message ?? "");
        fields = rest;
      }
    } catch {
      // Unstructured text: kept as the message.
    }
    this.lastLog = msg;
    if (level === "error" || level === "fatal" || level === "panic") this.lastErrorLog = msg;
    const log = this.opts.log.with({ connector: this.opts.label });
    const l = level === "warning" ? "warn" : level;
    if (l === "trace" || l === "debug" || l === "info" || l === "warn" || l === "error") log[l](msg, fields);
    else log.error(msg, fields);
  }

  private wake() {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** The most telling log line: the last error, else the last line. */
  get lastMessage(): string {
    return this.lastErrorLog || this.lastLog;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** True when a decoded response is waiting to be read. */
  hasBuffered(): boolean {
    return this.queue.length > 0;
  }

  async send(req: Req): Promise<void> {
    await this.write(this.wire.frame([req]));
  }

  async sendMany(reqs: Req[]): Promise<void> {
    if (reqs.length === 0) return;
    await this.write(this.wire.frame(reqs));
  }

  private write(buf: Buffer): Promise<void> {
    const stdin = this.child.stdin!;
    if (stdin.destroyed || stdin.writableEnded) return Promise.resolve();
    if (stdin.write(buf)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        stdin.off("drain", done);
        stdin.off("close", done);
        resolve();
      };
      stdin.once("drain", done);
      stdin.once("close", done);
    });
  }

  /** Ends the request stream (EOF on the connector's stdin). */
  closeInput(): void {
    if (!this.child.stdin!.writableEnded) this.child.stdin!.end();
  }

  /**
   * The next response, or undefined once the connector closed stdout and
   * exited 0. A non-zero exit is thrown as ConnectorFailed.
   */
  async next(): Promise<Res | undefined> {
    for (;;) {
      if (this.queue.length > 0) {
        const r = this.queue.shift()!;
        if (this.queue.length <= QUEUE_LOW && this.child.stdout!.isPaused()) this.child.stdout!.resume();
        return r;
      }
      if (this.failure) throw this.failure;
      if (this.stdoutEnded) {
        const { code, signal } = await this.exited;
        if (this.failure) throw this.failure;
        if (this.killed) throw new ConnectorFailed(`connector ${this.opts.label} was killed by the harness`, code, signal, this.lastMessage);
        if (code !== 0) {
          const how = signal ? `was killed by signal ${signal}` : `exited with code ${code}`;
          const mid = this.truncated !== undefined ? " in the middle of writing a response" : "";
          const why = this.lastMessage ? `: ${this.lastMessage}` : "";
          throw new ConnectorFailed(`connector ${this.opts.label} ${how}${mid}${why}`, code, signal, this.lastMessage);
        }
        if (this.truncated !== undefined) {
          throw new ProtocolViolation("response stream", "truncated-message", `stdout ended inside a message: ${this.truncated}`);
        }
        return undefined;
      }
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  /**
   * Like next(), but gives up after `ms` milliseconds (undefined = no limit),
   * returning TIMED_OUT without consuming anything.
   */
  async nextWithin(ms: number | undefined): Promise<Res | undefined | typeof TIMED_OUT> {
    if (ms === undefined) return this.next();
    const ready = () => this.queue.length > 0 || !!this.failure || this.stdoutEnded;
    if (!(await waitReady(ready, ms, (wake) => (this.waiter = wake)))) return TIMED_OUT;
    return this.next();
  }

  /** SIGKILLs the process and waits until it is gone. */
  async kill(): Promise<void> {
    this.killed = true;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.exited;
  }

  /** Closes stdin and waits up to `graceMs` for a clean exit, else kills. */
  async stop(graceMs = 5000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.closeInput();
    let timer: NodeJS.Timeout | undefined;
    const res = await Promise.race([
      this.exited,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), graceMs))),
    ]);
    clearTimeout(timer);
    if (res) return res;
    await this.kill();
    return this.exited;
  }
}

export const TIMED_OUT = Symbol("timed-out");

/**
 * Waits until `ready()` holds or `ms` pass, whichever is first; `arm`
 * installs (and, with undefined, removes) the callback that the producer
 * calls on news. Resolves false on a timeout.
 */
export async function waitReady(ready: () => boolean, ms: number, arm: (wake: (() => void) | undefined) => void): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      arm(resolve);
      timer = setTimeout(resolve, left);
    });
    clearTimeout(timer);
    arm(undefined);
  }
  return true;
}
