/**
 * Reads one stream (optionally one subject filter of it) in order from a
 * stream sequence on, through an ephemeral consumer with no server-side
 * acknowledgements, so the position the capture commits in its own state is
 * the only position there is. Reads are bounded pulls, so at most two pulls'
 * messages are buffered however far behind the capture is.
 *
 * It is the JetStream client's ordered consumer done on the core connection:
 * a pull request published to the consumer's `MSG.NEXT` subject, messages
 * taken straight from the inbox subscription's callback, their stream and
 * delivery sequences read from the reply subject in one pass. The client's
 * ordered consumer wraps every message and splits its reply subject into
 * eleven strings to check the same sequence, which cost about a tenth of the
 * connector's time. The ordering rule is the same: a delivery sequence that
 * does not follow the last one received (a message lost on the way), an
 * unexpected status, or a pull that goes quiet past its expiry (consumer gone,
 * server restarted) drops the consumer and makes a new one from the stream
 * sequence after the last message received, so nothing is repeated or
 * skipped.
 *
 * Messages the stream no longer holds (removed by its retention limits or
 * deleted) are skipped by the server; the reader says which sequences were
 * skipped in the log: those before the first message still held when it
 * starts, and, without a subject filter, any hole between two messages.
 */
import { createInbox, nanos, nuid, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy, type JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "../../src/log.js";
import { describeJetStreamError } from "../../src/nats/connect.js";
import type { StreamMessage } from "./documents.js";

export interface ReaderOptions {
  nc: NatsConnection;
  jsm: JetStreamManager;
  stream: string;
  subject?: string;
  /** The stream sequence of the last message already captured (0: none). */
  position: number;
  /** Messages asked for by one pull. */
  pullSize: number;
  log: Logger;
  /** How long one pull waits on the server for messages (ms). */
  expiresMs?: number;
}

const EXPIRES_MS = 5000;
/** Consecutive consumer re-creations with no message or pull expiry in between before the reader gives up. */
const MAX_RESETS = 5;

/** A message as the reader hands it out: its sequences read, the rest from the client's message on demand. */
class ReadMessage implements StreamMessage {
  constructor(
    private readonly msg: Msg,
    readonly seq: number,
    /** Matching messages the consumer had left after this one. */
    readonly pending: number,
    readonly reply: string,
    /** Where the reply's timestamp token lies. */
    readonly tsFrom: number,
    readonly tsTo: number,
  ) {}
  get subject(): string {
    return this.msg.subject;
  }
  get data(): Uint8Array {
    return this.msg.data;
  }
  get headers(): MsgHdrs | undefined {
    return this.msg.headers;
  }
  get timestampNanos(): bigint {
    const t = this.reply.split(".");
    return BigInt(t[t.length === 9 ? 7 : 9]!);
  }
}

/** Dot positions in a reply subject, reused. */
const dots = new Int32Array(12);

/** The non-negative decimal integer in s[from, to), or -1. */
function intAt(s: string, from: number, to: number): number {
  if (from >= to) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

export class StreamReader {
  private sub?: Subscription;
  private consumer?: string;
  private readonly prefix = `tributary_${nuid.next()}`;
  private serial = 0;
  /** Bumped with each consumer, so messages of an earlier one are ignored. */
  private generation = 0;
  /** Messages pulled and not yet taken: at most two pulls' worth. */
  private buffer: ReadMessage[] = [];
  private failure?: Error;
  private closed = false;
  /** Wakes take() when messages (or a failure) arrive, and the pump when take() made room. */
  private arrived?: () => void;
  private drained?: () => void;
  /** Ends the pull in flight. */
  private pullEnded?: () => void;
  /** Messages the pull in flight may still deliver. */
  private left = 0;
  /** Messages and statuses received, for the pull's watchdog. */
  private activity = 0;
  private resetNeeded = false;
  private resets = 0;
  private lastStatus = "";
  /** Stream and delivery sequence of the last message received (buffered). */
  private received: number;
  private delivered = 0;
  /** The stream sequence of the last message handed out. */
  position: number;
  /** Matching messages known to follow `position` (from the consumer's info, then each message's). */
  remaining = 0;
  /** The sequence the next message has unless some were dropped (without a filter). */
  private expected: number;
  private readonly expiresMs: number;

  private constructor(private readonly o: ReaderOptions) {
    this.position = o.position;
    this.received = o.position;
    this.expected = o.position + 1;
    this.expiresMs = o.expiresMs ?? EXPIRES_MS;
  }

  private what(doing: string): string {
    return `stream ${this.o.stream}${this.o.subject ? ` (subject ${this.o.subject})` : ""}: ${doing}`;
  }

  /** Starts reading after `position`, reporting messages removed since then. */
  static async open(o: ReaderOptions): Promise<StreamReader> {
    const r = new StreamReader(o);
    try {
      const info = await o.jsm.streams.info(o.stream);
      const first = info.state.first_seq;
      if (o.position > 0 && first > o.position + 1) {
        o.log.warn("messages were removed from the stream before they were captured; they are skipped", {
          stream: o.stream,
          subject: o.subject,
          firstSkipped: o.position + 1,
          lastSkipped: first - 1,
          skipped: first - 1 - o.position,
        });
      }
      if (o.position > info.state.last_seq) {
        o.log.warn("the captured position is past the stream's last message: was the stream re-created? Bump the binding's backfill counter to read it from its start", {
          stream: o.stream,
          position: o.position,
          lastSeq: info.state.last_seq,
        });
      }
      r.expected = Math.max(r.expected, first);
      r.remaining = await r.newConsumer();
    } catch (err) {
      await r.close();
      throw describeJetStreamError(err, r.what("opening an ordered consumer"));
    }
    void r.pump();
    return r;
  }

  /** Drops the current consumer (if any) and makes one from the message after the last received; returns its pending count. */
  private async newConsumer(): Promise<number> {
    const old = this.consumer;
    this.generation++;
    this.sub?.unsubscribe();
    this.sub = undefined;
    this.consumer = undefined;
    if (old) void this.o.jsm.consumers.delete(this.o.stream, old).catch(() => undefined);
    const name = `${this.prefix}_${++this.serial}`;
    const ci = await this.o.jsm.consumers.add(this.o.stream, {
      name,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.received + 1,
      ack_policy: AckPolicy.None,
      max_deliver: 1,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(5 * 60 * 1000),
      ...(this.o.subject ? { filter_subject: this.o.subject } : {}),
    });
    if (this.closed) {
      // Closed while the consumer was being made: leave nothing behind.
      await this.o.jsm.consumers.delete(this.o.stream, name).catch(() => undefined);
      return ci.num_pending;
    }
    this.consumer = name;
    this.delivered = 0;
    const generation = this.generation;
    this.sub = this.o.nc.subscribe(createInbox(), { callback: (err, m) => this.onMessage(generation, err, m) });
    return ci.num_pending;
  }

  /**
   * Pulls in the background, one bounded pull at a time: the next pull is
   * asked for as soon as the last one ended while at most one pull's worth
   * waits to be taken, so the server sends it while the documents of the
   * last are built.
   */
  private async pump(): Promise<void> {
    try {
      while (!this.closed && !this.failure) {
        if (this.buffer.length > this.o.pullSize) {
          await new Promise<void>((resolve) => (this.drained = resolve));
          continue;
        }
        if (this.resetNeeded) {
          if (++this.resets > MAX_RESETS) throw new Error(`the consumer kept failing (${this.lastStatus || "no messages and no status"})`);
          this.resetNeeded = false;
          await this.newConsumer();
          continue;
        }
        await this.pull();
      }
    } catch (err) {
      if (!this.closed) this.failure = describeJetStreamError(err, this.what("reading"));
      this.wake();
    }
  }

  /** One pull: asks for pullSize messages and waits until they came, the server ended the pull, or it went quiet. */
  private async pull(): Promise<void> {
    const sub = this.sub!;
    this.left = this.o.pullSize;
    const ended = new Promise<void>((resolve) => (this.pullEnded = resolve));
    let seen = this.activity;
    const watchdog = setInterval(() => {
      if (this.activity === seen) {
        // Nothing at all, not even the expiry status: the consumer or the request is gone.
        this.lastStatus = "the pull went quiet";
        this.resetNeeded = true;
        this.endPull();
      }
      seen = this.activity;
    }, this.expiresMs * 2);
    try {
      const request = JSON.stringify({ batch: this.o.pullSize, expires: nanos(this.expiresMs) });
      this.o.nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${this.o.stream}.${this.consumer}`, request, { reply: sub.getSubject() });
      await ended;
    } finally {
      clearInterval(watchdog);
    }
  }

  private endPull(): void {
    const e = this.pullEnded;
    this.pullEnded = undefined;
    e?.();
  }

  private onMessage(generation: number, err: Error | null, m: Msg): void {
    if (generation !== this.generation || this.closed) return;
    if (err) {
      this.failure ??= describeJetStreamError(err, this.what("reading"));
      this.wake();
      this.endPull();
      return;
    }
    this.activity++;
    const reply = m.reply;
    if (!reply) return this.onStatus(m);
    // $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending> (9 tokens),
    // or with <domain>.<account hash> after ACK (11, or 12 with a trailing token).
    let n = 0;
    for (let p = reply.indexOf("."); p !== -1 && n < 12; p = reply.indexOf(".", p + 1)) dots[n++] = p;
    const at = n === 8 ? 4 : n >= 10 ? 6 : -1;
    const end = (k: number) => (k < n ? dots[k]! : reply.length);
    const seq = at < 0 ? -1 : intAt(reply, dots[at]! + 1, dots[at + 1]!);
    const dseq = at < 0 ? -1 : intAt(reply, dots[at + 1]! + 1, dots[at + 2]!);
    const pending = at < 0 ? -1 : intAt(reply, dots[at + 3]! + 1, end(at + 4));
    if (seq < 0 || dseq < 0 || pending < 0 || !reply.startsWith("$JS.ACK.")) {
      this.failure ??= new Error(this.what("a message came without a JetStream reply subject"));
      this.wake();
      this.endPull();
      return;
    }
    if (dseq !== this.delivered + 1) {
      // A message was lost on the way: read again from the last one received.
      this.lastStatus = `delivery ${dseq} after ${this.delivered}`;
      this.generation++;
      this.resetNeeded = true;
      this.endPull();
      return;
    }
    this.delivered = dseq;
    this.received = seq;
    this.resets = 0;
    this.buffer.push(new ReadMessage(m, seq, pending, reply, dots[at + 2]! + 1, dots[at + 3]!));
    this.wake();
    if (--this.left === 0) this.endPull();
  }

  private onStatus(m: Msg): void {
    const h = m.headers;
    const code = h?.code ?? 0;
    // An idle heartbeat: nothing to do.
    if (code === 100) return;
    // No messages (yet), or the pull expired: the consumer is fine, and the next pull asks again.
    if (code === 404 || code === 408) {
      this.resets = 0;
      return this.endPull();
    }
    // Anything else (consumer deleted, leadership change, no responders…): a new consumer.
    this.lastStatus = `status ${code} ${h?.description ?? ""}`.trim();
    this.generation++;
    this.resetNeeded = true;
    this.endPull();
  }

  private wake(): void {
    const a = this.arrived;
    this.arrived = undefined;
    a?.();
  }

  /**
   * Up to `max` messages: those already arrived, waiting up to `waitMs` for
   * the first. Empty when none came (or the signal aborted).
   */
  async take(max: number, waitMs: number, signal: AbortSignal): Promise<StreamMessage[]> {
    if (this.buffer.length === 0 && !this.failure && !signal.aborted) {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => this.wake();
      signal.addEventListener("abort", onAbort, { once: true });
      await new Promise<void>((resolve) => {
        this.arrived = resolve;
        timer = setTimeout(resolve, waitMs);
      });
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
    if (this.failure) throw this.failure;
    // Closed when the session ends: nothing more to hand out, and no error to report.
    if (this.closed) return [];
    const out = this.buffer.length <= max ? this.buffer.splice(0) : this.buffer.splice(0, max);
    const d = this.drained;
    this.drained = undefined;
    d?.();
    for (const m of out) {
      if (!this.o.subject && m.seq > this.expected && this.position > 0) {
        this.o.log.warn("messages were deleted from the stream before they were captured; they are skipped", {
          stream: this.o.stream,
          firstSkipped: this.expected,
          lastSkipped: m.seq - 1,
          skipped: m.seq - this.expected,
        });
      }
      this.expected = m.seq + 1;
      this.position = m.seq;
      this.remaining = m.pending;
    }
    return out;
  }

  /** Stops pulling and deletes the ephemeral consumer. */
  async close(): Promise<void> {
    this.closed = true;
    this.generation++;
    const consumer = this.consumer;
    this.consumer = undefined;
    this.buffer = [];
    this.sub?.unsubscribe();
    this.sub = undefined;
    this.endPull();
    this.drained?.();
    this.wake();
    if (consumer) await this.o.jsm.consumers.delete(this.o.stream, consumer).catch(() => undefined);
  }
}
