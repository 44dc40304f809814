/** Rate limits: a token bucket, and buckets per key (a token, an address). */

/** `rate` tokens a second, holding at most `burst`. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes one token; false when there is none (the caller refuses the request). */
  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Seconds until a token is there again (0 when one is). */
  wait(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / this.rate);
  }

  /** True when the bucket is full: it can be forgotten and recreated as it was. */
  idle(): boolean {
    this.refill();
    return this.tokens >= this.burst;
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
  }
}

/** A bucket per key. Full buckets are forgotten now and then, so memory follows active keys only. */
export class KeyedLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private takes = 0;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Undefined when allowed; otherwise the seconds to wait (for `Retry-After`). */
  take(key: string): number | undefined {
    if (++this.takes % 1000 === 0) this.sweep();
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, b = new TokenBucket(this.rate, this.burst, this.now));
    return b.take() ? undefined : Math.max(1, b.wait());
  }

  get size(): number {
    return this.buckets.size;
  }

  private sweep(): void {
    for (const [k, b] of this.buckets) if (b.idle()) this.buckets.delete(k);
  }
}
