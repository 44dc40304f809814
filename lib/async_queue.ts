/**
 * A bounded hand-off between a push-based producer (a replication socket) and an async-iterating
 * consumer. `push` reports when the queue is full so the producer can pause its socket; `onDrain`
 * fires when the consumer has caught up so it can resume.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private waiter: (() => void) | undefined;
  private failure: { error: unknown } | undefined;
  private ended = false;

  constructor(
    private readonly highWater: number,
    private readonly onDrain: () => void = () => {},
    private readonly lowWater = Math.floor(highWater / 4),
  ) {}

  get size(): number {
    return this.items.length;
  }

  /** Adds an item; returns false when the queue is at or above its high-water mark. */
  push(item: T): boolean {
    this.items.push(item);
    this.wake();
    return this.items.length < this.highWater;
  }

  /** The consumer sees the error after the items already queued. */
  fail(error: unknown): void {
    this.failure ??= { error };
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        if (this.items.length === this.lowWater) this.onDrain();
        yield item;
        continue;
      }
      if (this.failure) throw this.failure.error;
      if (this.ended) return;
      await new Promise<void>((resolve) => this.waiter = resolve);
    }
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}
