/**
 * A bound on commands in flight. ioredis pipelines every command sent
 * before the replies arrive; this keeps the unanswered ones (and the memory
 * their arguments hold) under a byte budget, waiting for the oldest when
 * the budget is exceeded.
 */
export class InFlight {
  private queue: Array<{ p: Promise<unknown>; bytes: number }> = [];
  private bytes = 0;
  private failure: unknown = undefined;

  constructor(private readonly budget: number) {}

  /** Tracks `p`; resolves once the commands still in flight fit the budget. */
  add(p: Promise<unknown>, bytes: number): void | Promise<void> {
    // Remember the first failure now, so no rejection goes unhandled.
    p.catch((err) => (this.failure ??= err));
    this.queue.push({ p, bytes });
    this.bytes += bytes;
    if (this.bytes > this.budget) return this.drainTo(this.budget / 2);
  }

  private async drainTo(target: number): Promise<void> {
    while (this.bytes > target && this.queue.length) {
      const { p, bytes } = this.queue.shift()!;
      this.bytes -= bytes;
      await p;
    }
    if (this.failure !== undefined) throw this.failure;
  }

  /** Waits for everything in flight; throws the first failure. */
  async finish(): Promise<void> {
    await this.drainTo(-1);
  }
}
