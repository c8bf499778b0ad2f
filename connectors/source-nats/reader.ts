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
import type { Consumer, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../../src/log.js";
import { describeJetStreamError } from "../../src/nats/connect.js";

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
  /** Messages pulled and not yet taken: at most two pulls' worth. */
  private buffer: JsMsg[] = [];
  private failure?: Error;
  private closed = false;
  /** Wakes take() when messages (or a failure) arrive, and the pump when take() made room. */
  private arrived?: () => void;
  private drained?: () => void;
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
      if (o.position > info.state.last_seq) {
        o.log.warn("the captured position is past the stream's last message: was the stream re-created? Bump the binding's backfill counter to read it from its start", {
          stream: o.stream,
          position: o.position,
          lastSeq: info.state.last_seq,
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
    void r.pump();
    return r;
  }

  /**
   * Pulls in the background, one bounded pull at a time: the next pull is
   * asked for as soon as the last one ended while at most one pull's worth
   * waits to be taken, so the server sends it while the documents of the
   * last are built (at most two pulls buffered). Messages arrive through the
   * pull's callback, straight into the buffer: no async iteration (and its
   * promise turns) per message.
   */
  private async pump(): Promise<void> {
    try {
      while (!this.closed) {
        if (this.buffer.length > this.o.pullSize) {
          await new Promise<void>((resolve) => (this.drained = resolve));
          continue;
        }
        // The client honours `callback` on fetch as on consume, though its
        // FetchOptions type leaves it out (the capture tests would stall without it).
        const pull = await this.consumer!.fetch({
          max_messages: this.o.pullSize,
          expires: 5000,
          callback: (m: JsMsg) => {
            this.buffer.push(m);
            this.wake();
          },
        } as never);
        this.pull = pull;
        // Resolves with the error that ended the pull, if one did.
        const err = await pull.closed();
        this.pull = undefined;
        if (err) throw err;
      }
    } catch (err) {
      if (!this.closed) this.failure = describeJetStreamError(err, this.what("reading"));
      this.wake();
    }
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
  async take(max: number, waitMs: number, signal: AbortSignal): Promise<JsMsg[]> {
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
      this.remaining = m.info.pending;
    }
    return out;
  }

  /** Stops the pull and deletes the ephemeral consumer. */
  async close(): Promise<void> {
    this.closed = true;
    const pull = this.pull;
    const consumer = this.consumer;
    this.pull = undefined;
    this.consumer = undefined;
    this.buffer = [];
    pull?.stop();
    this.drained?.();
    this.wake();
    await (consumer as { delete?: () => Promise<unknown> } | undefined)?.delete?.().catch(() => undefined);
  }
}
