/**
 * Turns by name: work under one name runs one at a time, in the order it asked. The two
 * directions' appliers share them per table and worker slot — one key always falls in the same
 * slot both ways — so their check-then-write steps on one row never interleave.
 */
export class Turns {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const before = this.tails.get(name) ?? Promise.resolve();
    const mine = before.then(fn, fn);
    const tail = mine.catch(() => {});
    this.tails.set(name, tail);
    try {
      return await mine;
    } finally {
      if (this.tails.get(name) === tail) this.tails.delete(name);
    }
  }
}
