/**
 * A bound on JetStream publishes awaiting their acknowledgement: publishes
 * are sent ahead of their acks, up to `limit` at once, and the first failure
 * is kept so that no rejection goes unhandled.
 */
export class PublishWindow {
  private queue: Array<Promise<unknown>> = [];
  private failure: unknown = undefined;
  private failed = false;

  constructor(private readonly limit: number) {}

  /** Tracks `p`; resolves once fewer than `limit` are in flight. */
  add(p: Promise<unknown>): void | Promise<void> {
    p.catch((err) => {
      if (!this.failed) (this.failed = true), (this.failure = err);
    });
    this.queue.push(p);
    if (this.queue.length >= this.limit) return this.drainTo(this.limit >> 1);
  }

  private async drainTo(target: number): Promise<void> {
    while (this.queue.length > target) await this.queue.shift()!.catch(() => undefined);
    if (this.failed) throw this.failure;
  }

  /** Waits for everything in flight; throws the first failure. */
  async finish(): Promise<void> {
    await this.drainTo(0);
  }
}
