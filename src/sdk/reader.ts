/**
 * Reads a stream of protocol requests one at a time, naming each by the one
 * message field it sets, and fails fast when background work fails.
 *
 * Connector work started by a request (an acknowledge, a load, a store) runs
 * while the session waits for the next request; `watch` ties such work to
 * the reader so that its failure ends the wait instead of going unnoticed.
 */
import { ProtocolError } from "./errors.js";
import { isFastDecoded } from "../codec/fast-decode.js";

/** [field name on the message, message name for errors] */
export type Variants = ReadonlyArray<readonly [string, string]>;

/**
 * Requests as a transport delivers them: one at a time, or in batches (an
 * array per chunk read), which the reader then hands out one by one without
 * a promise round trip per request.
 */
export type RequestStream<Req> = AsyncIterable<Req | readonly Req[]>;

export interface Received<Req> {
  /** The field set on the request, e.g. "startCommit". */
  kind: string;
  /** Its full message name, e.g. "materialize.Request.StartCommit". */
  name: string;
  req: Req;
}

export class RequestReader<Req extends object> {
  private readonly it: AsyncIterator<Req | readonly Req[]>;
  /** The rest of the batch being read. */
  private batch: readonly Req[] = [];
  private batchPos = 0;
  private failed = false;
  private error: unknown;
  private rejectPending: ((err: unknown) => void) | undefined;
  /** Per variant, its full message name (built once, not per request). */
  private readonly names: string[];

  /**
   * `inspect` sees every request first and says whether it carries fields
   * this SDK does not know (see unknown-log.ts).
   */
  constructor(
    requests: RequestStream<Req>,
    private readonly typeName: string,
    private readonly variants: Variants,
    private readonly inspect?: (req: Req) => boolean,
  ) {
    this.it = requests[Symbol.asyncIterator]();
    this.names = variants.map((v) => `${typeName}.${v[1]}`);
  }

  /** Classifies a request by its single set message field. */
  classify(req: Req): Received<Req> {
    let found = -1;
    const variants = this.variants;
    for (let i = 0; i < variants.length; i++) {
      const v = variants[i]!;
      if ((req as Record<string, unknown>)[v[0]] !== undefined) {
        if (found >= 0) {
          throw new ProtocolError(`${this.typeName} sets both ${variants[found]![1]} and ${v[1]}; exactly one message is allowed`);
        }
        found = i;
      }
    }
    if (found < 0) {
      throw new ProtocolError(`${this.typeName} sets no message; expected one of ${variants.map((v) => v[1]).join(", ")}`);
    }
    return { kind: variants[found]![0], name: this.names[found]!, req };
  }

  /**
   * The next request, or undefined at the end of the stream. A failure of
   * watched work rejects the pending read. (No Promise.race against a
   * long-lived promise here: every race would leave a reaction on it that
   * keeps its request alive for the whole session.)
   */
  async next(): Promise<Received<Req> | undefined> {
    for (;;) {
      const buffered = this.nextBuffered();
      if (buffered) return buffered;
      const r = await new Promise<IteratorResult<Req | readonly Req[]>>((resolve, reject) => {
        this.rejectPending = reject;
        this.it.next().then(resolve, reject);
      });
      this.rejectPending = undefined;
      if (r.done) return undefined;
      if (Array.isArray(r.value)) {
        this.batch = r.value as readonly Req[];
        this.batchPos = 0;
        continue;
      }
      const received = this.accept(r.value as Req);
      if (received) return received;
    }
  }

  /**
   * The next request when the batch being read still holds one, without a
   * promise; undefined when next() must wait for more. Loops over Loads and
   * Stores take most requests this way.
   */
  nextBuffered(): Received<Req> | undefined {
    if (this.failed) throw this.error;
    while (this.batchPos < this.batch.length) {
      const received = this.accept(this.batch[this.batchPos++]!);
      if (received) return received;
    }
    return undefined;
  }

  /**
   * The next request of the batch being read when it is one that a fast
   * decoder built (see isFastDecoded) and sets `field`; undefined when the
   * batch is used up or its next request is any other, which next() and
   * nextBuffered() then read as usual. Such a request holds exactly that
   * one message and no unknown field, so it needs neither classifying nor
   * inspecting: the loops over Loads and Stores take it without a
   * Received per request.
   */
  takeBuffered(field: string): Req | undefined {
    if (this.failed) throw this.error;
    if (this.batchPos >= this.batch.length) return undefined;
    const req = this.batch[this.batchPos]!;
    if (!isFastDecoded(req) || (req as Record<string, unknown>)[field] === undefined) return undefined;
    this.batchPos++;
    return req;
  }

  /**
   * A request classified, or undefined when it is to be skipped: its only
   * message is one a newer runtime added, which `inspect` has logged; skip
   * it rather than fail the session.
   */
  private accept(req: Req): Received<Req> | undefined {
    // A fast-decoded request has no unknown field by construction.
    const hasUnknown = this.inspect !== undefined && !isFastDecoded(req) && this.inspect(req);
    if (hasUnknown && !this.variants.some((v) => (req as Record<string, unknown>)[v[0]] !== undefined)) return undefined;
    return this.classify(req);
  }

  /** Fails the current or next read if `work` rejects. */
  watch(work: Promise<unknown>): void {
    work.catch((err) => this.abort(err));
  }

  /** Rejects the pending read, and every later one, with `err`. */
  abort(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.error = err;
    const reject = this.rejectPending;
    this.rejectPending = undefined;
    reject?.(err);
  }

  /**
   * Stops consuming the stream. Not awaited: an async generator queues
   * `return()` behind a pending `next()`, which may never settle.
   */
  close(): void {
    this.it.return?.()?.catch(() => {});
  }
}
