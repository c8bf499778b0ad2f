/**
 * Reads one stream (optionally one subject filter of it) in order from a
 * stream sequence on, through an ordered consumer: ephemeral, no server-side
 * acknowledgements, so the position the capture commits in its own state is
 * the only position there is. Reads are bounded pulls (`fetch`), so at most
 * one pull's messages are buffered however far behind the capture is.
 *
 * Messages the stream no longer holds (removed by its retention limits or
 * deleted) are skipped by the server; the reader says which sequences were
 * skipped in the log: those before the first message still held when it
 * starts, and, without a subject filter, any hole between two messages.
 */
import { setImmediate } from "node:timers/promises";
import type { Consumer, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../../src/log.js";
import { describeJetStreamError } from "../../src/nats/connect.js";

const TIMEOUT = Symbol("timeout");

/** `p` if it settles within `ms` (a negative `ms`: only if it is settled already), else TIMEOUT. */
async function within<T>(p: Promise<T>, ms: number, signal: AbortSignal): Promise<T | typeof TIMEOUT> {
  if (ms < 0) return Promise.race([p, setImmediate(TIMEOUT)]);
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<typeof TIMEOUT>((resolve) => {
        timer = setTimeout(() => resolve(TIMEOUT), ms);
        onAbort = () => resolve(TIMEOUT);
        signal.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
}

export interface ReaderOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  subject?: string;
  /** The stream sequence of the last message already captured (0: none). */
  position: number;
  /** Messages asked for by one pull. */
  pullSize: number;
  log: Logger;
}

export class StreamReader {
  private consumer?: Consumer;
  private pull?: ConsumerMessages;
  private iter?: AsyncIterator<JsMsg>;
  private next?: Promise<IteratorResult<JsMsg>>;
  /** The stream sequence of the last message handed out. */
  position: number;
  /** Matching messages known to follow `position` (from the consumer's info, then each message's). */
  remaining = 0;
  /** The sequence the next message has unless some were dropped (without a filter). */
  private expected: number;

  private constructor(private readonly o: ReaderOptions) {
    this.position = o.position;
    this.expected = o.position + 1;
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
      r.expected = Math.max(r.expected, first);
      r.consumer = await o.js.consumers.get(o.stream, {
        deliver_policy: "by_start_sequence" as never,
        opt_start_seq: o.position + 1,
        ...(o.subject ? { filter_subjects: o.subject } : {}),
      });
      r.remaining = (await r.consumer.info()).num_pending;
    } catch (err) {
      await r.close();
      throw describeJetStreamError(err, r.what("opening an ordered consumer"));
    }
    return r;
  }

  /**
   * Up to `max` messages: those already arrived, waiting up to `waitMs` for
   * the first. Empty when none came (or the signal aborted).
   */
  async take(max: number, waitMs: number, signal: AbortSignal): Promise<JsMsg[]> {
    const out: JsMsg[] = [];
    const deadline = Date.now() + waitMs;
    try {
      while (out.length < max && !signal.aborted) {
        if (!this.iter) {
          this.pull = await this.consumer!.fetch({ max_messages: this.o.pullSize, expires: Math.max(1000, waitMs * 4) });
          this.iter = this.pull[Symbol.asyncIterator]();
        }
        this.next ??= this.iter.next();
        const wait = out.length === 0 ? deadline - Date.now() : -1;
        if (out.length === 0 && wait <= 0) break;
        const r = await within(this.next, wait, signal);
        if (r === TIMEOUT) break;
        this.next = undefined;
        if (r.done) {
          // The pull is over (all asked for came, or it expired): the next round asks again.
          this.iter = undefined;
          this.pull = undefined;
          if (out.length > 0) break;
          continue;
        }
        const m = r.value;
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
        this.remaining = m.info.pending;
        out.push(m);
      }
    } catch (err) {
      this.iter = undefined;
      this.next = undefined;
      throw describeJetStreamError(err, this.what("reading"));
    }
    return out;
  }

  /** Stops the pull and deletes the ephemeral consumer. */
  async close(): Promise<void> {
    const pull = this.pull;
    const consumer = this.consumer;
    this.pull = undefined;
    this.iter = undefined;
    this.next = undefined;
    this.consumer = undefined;
    pull?.stop();
    await (consumer as { delete?: () => Promise<unknown> } | undefined)?.delete?.().catch(() => undefined);
  }
}
