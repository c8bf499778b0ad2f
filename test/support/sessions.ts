/**
 * In-process helpers for driving the SDK's session runners in tests: a
 * request stream the test feeds step by step, and a sink that records
 * responses and can be awaited for the next one.
 */
import type { ResponseSink } from "../../src/transport/sink.js";

export class RequestFeed<T> implements AsyncIterable<T> {
  private queue: T[] = [];
  private ended = false;
  private wake?: () => void;

  push(...reqs: T[]): void {
    this.queue.push(...reqs);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.queue.length) {
        yield this.queue.shift()!;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }
}

export class RecordingSink<T> implements ResponseSink<T> {
  readonly sent: T[] = [];
  flushes = 0;
  private waiters: Array<{ n: number; resolve: () => void }> = [];

  send(res: T): void {
    this.sent.push(res);
    this.waiters = this.waiters.filter((w) => (this.sent.length >= w.n ? (w.resolve(), false) : true));
  }

  async flush(): Promise<void> {
    this.flushes++;
  }

  /** Resolves once at least `n` responses were sent. */
  waitFor(n: number, timeoutMs = 5000): Promise<void> {
    if (this.sent.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${n} responses; got ${this.sent.length}`)), timeoutMs);
      this.waiters.push({
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}
