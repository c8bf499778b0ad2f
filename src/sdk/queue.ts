/**
 * A single-producer, single-consumer async queue with a high-water mark.
 *
 * The session loop pushes Load and Store requests; the connector iterates
 * them. `push` resolves only while the queue is below its high-water mark,
 * so a slow connector stops the session from reading more requests and the
 * transport's own backpressure keeps memory bounded.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private head = 0;
  private ended = false;
  private failed: unknown = undefined;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;
  private iterated = false;

  constructor(private readonly highWater = 1024) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** Adds an item; await the result before pushing more. */
  push(item: T): void | Promise<void> {
    if (this.ended) throw new Error("push after end of queue");
    this.items.push(item);
    this.wake();
    if (this.length >= this.highWater) {
      return new Promise<void>((resolve) => (this.wakeProducer = resolve));
    }
  }

  /** No more items: iteration ends once the queue drains. */
  end(): void {
    this.ended = true;
    this.wake();
  }

  /** Makes the consumer's next read throw `err`. */
  fail(err: unknown): void {
    this.failed = err ?? new Error("queue failed");
    this.ended = true;
    this.wake();
    this.releaseProducer();
  }

  private wake() {
    const w = this.wakeConsumer;
    this.wakeConsumer = undefined;
    w?.();
  }

  private releaseProducer() {
    const w = this.wakeProducer;
    this.wakeProducer = undefined;
    w?.();
  }

  private shift(): T {
    const item = this.items[this.head]!;
    this.items[this.head++] = undefined as T;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (this.length < this.highWater / 2) this.releaseProducer();
    return item;
  }

  async next(): Promise<IteratorResult<T>> {
    for (;;) {
      if (this.failed !== undefined) throw this.failed;
      if (this.length > 0) return { value: this.shift(), done: false };
      if (this.ended) {
        this.releaseProducer();
        return { value: undefined, done: true };
      }
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.iterated) throw new Error("a transaction's requests can be iterated only once");
    this.iterated = true;
    return { next: () => this.next() };
  }
}
