/**
 * A pool of workers that keeps each key's order: a key always goes to the same worker (by a hash
 * of it), each worker takes its queue in order, up to `maxBatch` items at a time. Different keys
 * run in parallel; one key's changes never overtake each other. No I/O: `run` does the work.
 */

export interface KeyPoolOptions<T> {
  workers: number;
  maxBatch: number;
  /** Carries out one batch of one worker; the next batch of that worker waits for it. */
  run: (items: T[], worker: number) => Promise<void>;
  /** Told when `run` throws (it should not: it is expected to retry by itself). */
  onError: (err: unknown) => void;
}

export class KeyPool<T> {
  private readonly queues: T[][];
  private readonly busy: boolean[];
  private queued = 0;
  private inRun = 0;
  private readonly roomWaiters: { below: number; resolve: () => void }[] = [];
  private stopped = false;

  constructor(private readonly opts: KeyPoolOptions<T>) {
    this.queues = Array.from({ length: Math.max(1, opts.workers) }, () => []);
    this.busy = this.queues.map(() => false);
  }

  /** Items queued or being worked on. */
  get size(): number {
    return this.queued + this.inRun;
  }

  push(key: string, item: T): void {
    if (this.stopped) return;
    const w = workerOf(key, this.queues.length);
    this.queues[w]!.push(item);
    this.queued++;
    if (!this.busy[w]) void this.drain(w);
  }

  /** Resolves once fewer than `below` items are queued or being worked on (backpressure). */
  room(below: number): Promise<void> {
    if (this.size < below || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push({ below, resolve }));
  }

  /** Takes nothing more; batches being run finish. */
  stop(): void {
    this.stopped = true;
    for (const q of this.queues) this.queued -= q.splice(0).length;
    for (const w of this.roomWaiters.splice(0)) w.resolve();
  }

  private async drain(w: number): Promise<void> {
    this.busy[w] = true;
    const queue = this.queues[w]!;
    while (queue.length > 0 && !this.stopped) {
      const batch = queue.splice(0, this.opts.maxBatch);
      this.queued -= batch.length;
      this.inRun += batch.length;
      try {
        await this.opts.run(batch, w);
      } catch (err) {
        this.opts.onError(err);
      } finally {
        this.inRun -= batch.length;
        this.wake();
      }
    }
    this.busy[w] = false;
  }

  private wake(): void {
    for (let i = 0; i < this.roomWaiters.length;) {
      const waiter = this.roomWaiters[i]!;
      if (this.size < waiter.below) {
        this.roomWaiters.splice(i, 1);
        waiter.resolve();
      } else i++;
    }
  }
}

/** FNV-1a over the key's UTF-16 code units: the same key, the same worker. */
export function workerOf(key: string, workers: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % workers;
}
