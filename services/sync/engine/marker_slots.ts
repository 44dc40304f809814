/**
 * Marker rows are numbered per concurrent writer: each transaction updates a row no other open
 * transaction holds, so parallel batches never queue on one marker row's lock.
 */
export class MarkerSlots {
  private readonly free: number[];
  private readonly waiting: ((slot: number) => void)[] = [];

  constructor(count: number) {
    this.free = Array.from({ length: Math.max(1, count) }, (_, i) => i);
  }

  take(): Promise<number> {
    const slot = this.free.shift();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  give(slot: number): void {
    const next = this.waiting.shift();
    if (next) next(slot);
    else this.free.unshift(slot); // the lowest slots stay in use: few marker rows
  }
}
