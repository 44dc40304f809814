/**
 * The low watermark of one capture's changes: each change gets a sequence number as it arrives,
 * workers finish them out of order (different keys, different workers), and the watermark is
 * the highest number below which every change is done — committed on the target, or dropped.
 * A source position may be confirmed only up to it (SPEC §8.2 "Nothing lost").
 */

interface Entry<T> {
  readonly info: T;
  done: boolean;
}

export class Watermark<T> {
  private readonly entries: (Entry<T> | undefined)[] = [];
  private head = 0;
  /** Sequence number of `entries[head]`. */
  private base = 1;
  private readonly waiters: { seq: number; resolve: () => void; reject: (e: unknown) => void }[] =
    [];
  private closed: unknown;

  /** @param onAdvance gets the `info` of the changes the watermark passed, in order. */
  constructor(private readonly onAdvance: (covered: T[]) => void = () => {}) {}

  /** Every change up to and including this number is done. */
  get level(): number {
    return this.base - 1;
  }

  /** Changes taken but not done yet. */
  get pending(): number {
    return this.entries.length - this.head;
  }

  /** Registers the next change; returns its number. */
  add(info: T): number {
    this.entries.push({ info, done: false });
    return this.base + this.entries.length - 1 - this.head;
  }

  done(seq: number): void {
    const entry = this.entries[this.head + seq - this.base];
    if (!entry || entry.done) return;
    entry.done = true;
    if (seq !== this.base) return;
    const covered: T[] = [];
    while (this.entries[this.head]?.done) {
      covered.push(this.entries[this.head]!.info);
      this.entries[this.head++] = undefined;
      this.base++;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
    this.onAdvance(covered);
    while (this.waiters[0] && this.waiters[0].seq <= this.level) this.waiters.shift()!.resolve();
  }

  /** Resolves once the watermark reaches `seq`; rejects when closed before that. */
  reached(seq: number): Promise<void> {
    if (seq <= this.level) return Promise.resolve();
    if (this.closed !== undefined) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      // Callers wait in increasing order (one pipeline's publishes); keep the list sorted anyway.
      let at = this.waiters.length;
      while (at > 0 && this.waiters[at - 1]!.seq > seq) at--;
      this.waiters.splice(at, 0, { seq, resolve, reject });
    });
  }

  /** Rejects every waiter and every later one: what is not done will not be confirmed. */
  close(reason: unknown): void {
    this.closed = reason;
    for (const w of this.waiters.splice(0)) w.reject(reason);
  }
}
