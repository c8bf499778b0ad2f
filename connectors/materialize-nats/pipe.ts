/**
 * Many JetStream requests in flight on one connection, answered on one
 * wildcard inbox subscription: the connector's publishes with acks (staging
 * and apply) and its direct gets (Loads).
 *
 * Why not `js.publish` / `kv.get`: the client makes every request a promise
 * race between a timer and a deferred, captures two or three stack traces
 * (error objects built in advance, and one more on the way out) and writes
 * the request from its own microtask, which is most of the connector's CPU
 * at a few thousand documents per second. Here a request is a counter, a map
 * entry and a callback; one interval timer expires the requests whose
 * answer is late (insertion order is deadline order), and requests issued
 * in one synchronous run go out in one socket write.
 *
 * What the client checks, this checks too: a reply without responders (no
 * stream captures the subject, or JetStream is off) fails with the client's
 * NoRespondersError, a JetStream API error fails with its description and
 * code, a missing answer times out, and a closed connection fails whatever
 * is in flight.
 */
import { createInbox, errors, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";

export type Answer = (err: Error | undefined, msg: Msg | undefined) => void;

interface Waiting {
  answer: Answer;
  subject: string;
  deadline: number;
}

/** A JetStream API error from a reply's JSON (`{"error": {code, err_code, description}}`). */
export class JetStreamReplyError extends Error {
  constructor(
    readonly subject: string,
    readonly code: number,
    readonly errCode: number,
    description: string,
  ) {
    super(`${description} (code ${code}, err_code ${errCode}, subject ${subject})`);
    this.name = "JetStreamApiError";
  }
}

const dec = new TextDecoder();

export class RequestPipe {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly waiting = new Map<number, Waiting>();
  private last = 0;
  private timer: NodeJS.Timeout | undefined;
  private failure: Error | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 30_000,
  ) {
    this.prefix = `${createInbox()}.`;
    this.sub = nc.subscribe(`${this.prefix}*`, {
      callback: (err, msg) => {
        if (err) this.close(err);
        else this.settle(msg);
      },
    });
    void nc.closed().then((err) => this.close(err ?? new errors.ClosedConnectionError()));
  }

  /** How many requests await their answer. */
  get inFlight(): number {
    return this.waiting.size;
  }

  /**
   * Sends a request; `answer` is called once, with the reply or an error. A
   * reply of no responders is an error; status and JSON errors are for the
   * caller to read (see publishAck and directGet).
   */
  request(subject: string, data: Uint8Array, headers: MsgHdrs | undefined, answer: Answer): void {
    if (this.failure) {
      answer(this.failure, undefined);
      return;
    }
    const id = ++this.last;
    try {
      this.nc.publish(subject, data, headers ? { reply: this.prefix + id, headers } : { reply: this.prefix + id });
    } catch (err) {
      answer(err as Error, undefined);
      return;
    }
    this.waiting.set(id, { answer, subject, deadline: Date.now() + this.timeoutMs });
    this.timer ??= setInterval(() => this.expire(), Math.min(1000, this.timeoutMs)).unref();
  }

  private settle(msg: Msg): void {
    const id = Number(msg.subject.slice(this.prefix.length));
    const w = this.waiting.get(id);
    if (!w) return; // expired already
    this.waiting.delete(id);
    if (msg.data.length === 0 && msg.headers?.code === 503) w.answer(new errors.NoRespondersError(w.subject), undefined);
    else w.answer(undefined, msg);
  }

  private expire(): void {
    const now = Date.now();
    for (const [id, w] of this.waiting) {
      if (w.deadline > now) break;
      this.waiting.delete(id);
      w.answer(new errors.TimeoutError(), undefined);
    }
    if (this.waiting.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Fails everything in flight and every later request. */
  close(err: Error = new Error("the request pipe is closed")): void {
    this.failure ??= err;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const all = [...this.waiting.values()];
    this.waiting.clear();
    if (!this.sub.isClosed()) this.sub.unsubscribe();
    for (const w of all) w.answer(this.failure, undefined);
  }
}

/** A publish acknowledgement's stream sequence, or its error; JetStream acks are small JSON objects. */
export function readAck(subject: string, msg: Msg): number | Error {
  let ack: { stream?: string; seq?: number; error?: { code?: number; err_code?: number; description?: string } };
  try {
    ack = JSON.parse(dec.decode(msg.data));
  } catch {
    return new Error(`publishing to ${subject}: the acknowledgement is not JSON`);
  }
  if (ack.error) return new JetStreamReplyError(subject, ack.error.code ?? 0, ack.error.err_code ?? 0, ack.error.description ?? "JetStream error");
  if (!ack.stream || typeof ack.seq !== "number") return new Error(`publishing to ${subject}: invalid acknowledgement`);
  return ack.seq;
}

/**
 * Keeps up to `limit` publishes with acks in flight through a pipe; the
 * first failure is kept and thrown by add (from then on) and finish.
 */
export class AckWindow {
  private pending = 0;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly low: number;

  constructor(
    private readonly pipe: RequestPipe,
    private readonly limit: number,
  ) {
    this.low = limit >> 1;
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  /**
   * Publishes; `acked` runs with the stream sequence once JetStream stored
   * it (not on failure). Resolves when the window has room again (returns
   * nothing when it has).
   */
  publish(subject: string, data: Uint8Array, headers: MsgHdrs | undefined, acked?: (seq: number) => void): void | Promise<void> {
    if (this.failure) throw this.failure;
    this.pending++;
    this.pipe.request(subject, data, headers, (err, msg) => {
      this.pending--;
      const r = err ?? readAck(subject, msg!);
      if (typeof r !== "number") this.failure ??= r;
      else if (acked) acked(r);
      if (this.wake && (this.failure || this.pending <= this.low)) {
        const w = this.wake;
        this.wake = undefined;
        w();
      }
    });
    if (this.pending >= this.limit) return this.drain(this.low);
  }

  private async drain(to: number): Promise<void> {
    while (this.pending > to && !this.failure) await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.failure) throw this.failure;
  }

  /** Waits for every publish in flight; throws the first failure. */
  finish(): Promise<void> {
    return this.drain(0);
  }
}
