/**
 * A bounded hand-off between a push-based producer (a replication socket) and an async-iterating
 * consumer. `push` reports when the queue is full so the producer can pause its socket; `onDrain`
 * fires when the consumer has caught up so it can resume. Items may weigh more than one (a
 * transaction weighs its changes), so the bound holds memory, not just item counts.
 */
export interface QueueOptions<T> {
  highWater: number;
  lowWater?: number;
  onDrain?: () => void;
  weigh?: (item: T) => number;
}

export class AsyncQueue<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private weight = 0;
  private waiter: (() => void) | undefined;
  private failure: { error: unknown } | undefined;
  private ended = false;
  private readonly lowWater: number;
  private readonly weigh: (item: T) => number;

  constructor(private readonly opts: QueueOptions<T>) {
    this.lowWater = opts.lowWater ?? Math.floor(opts.highWater / 4);
    this.weigh = opts.weigh ?? (() => 1);
  }

  get size(): number {
    return this.items.length;
  }

  /** Adds an item; returns false when the queue is at or above its high-water mark. */
  push(item: T): boolean {
    this.items.push(item);
    this.weight += this.weigh(item);
    this.wake();
    return this.weight < this.opts.highWater;
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
      if (this.items.length > 0) {
        const item = this.items.shift()!;
        const before = this.weight;
        this.weight -= this.weigh(item);
        if (before > this.lowWater && this.weight <= this.lowWater) this.opts.onDrain?.();
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
