/**
 * The one gate every password hash and verification passes: at most `concurrency` at once in the
 * whole process, at most `maxQueued` waiting for a turn; beyond that the request is refused at
 * once (503 `overloaded` with Retry-After) instead of piling up. A login flood then costs a few
 * cores' worth of hashing and a bounded queue — never the memory or the time of everything else.
 */
import { SyncError } from "./errors.ts";
import type { Registry } from "./metrics.ts";

export interface SlotMetrics {
  inFlight(n: number): void;
  queued(n: number): void;
  /** The most hashes ever in flight at once (what the limit promises never exceeds it). */
  peak(n: number): void;
  rejected(): void;
  hashed(): void;
}

export interface SlotOptions {
  concurrency: number;
  maxQueued: number;
  metrics?: SlotMetrics | undefined;
}

export class PasswordSlots {
  private running = 0;
  private highest = 0;
  private readonly waiting: Array<() => void> = [];
  /** Recent seconds per hash, for the Retry-After of a refusal. */
  private averageSeconds = 0.25;

  constructor(private readonly opts: SlotOptions) {}

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  get peak(): number {
    return this.highest;
  }

  /** Runs `hash` in a slot, waiting for one if the queue has room; else `overloaded`. */
  async run<T>(hash: () => Promise<T>): Promise<T> {
    const m = this.opts.metrics;
    if (this.running < this.opts.concurrency) {
      this.running++;
    } else if (this.waiting.length >= this.opts.maxQueued) {
      m?.rejected();
      throw new SyncError("overloaded", "too many password checks at once; retry shortly", {
        retryAfter: this.retryAfter(),
      });
    } else {
      // Woken by a hash that ended: its slot is handed over, `running` unchanged.
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        m?.queued(this.waiting.length);
      });
    }
    this.highest = Math.max(this.highest, this.running);
    m?.inFlight(this.running);
    m?.peak(this.highest);
    const started = performance.now();
    try {
      return await hash();
    } finally {
      m?.hashed();
      const seconds = (performance.now() - started) / 1000;
      this.averageSeconds = 0.8 * this.averageSeconds + 0.2 * seconds;
      const next = this.waiting.shift();
      if (next) {
        m?.queued(this.waiting.length);
        next();
      } else {
        this.running--;
        m?.inFlight(this.running);
      }
    }
  }

  /** Whole seconds until the queue ahead has likely drained (at least 1). */
  private retryAfter(): number {
    const ahead = this.running + this.waiting.length;
    return Math.max(1, Math.ceil((ahead / this.opts.concurrency) * this.averageSeconds));
  }
}

/** The gate's metrics in a service's registry. */
export function slotMetrics(registry: Registry, prefix: string): SlotMetrics {
  const inFlight = registry.gauge(
    `${prefix}_password_hashes_in_flight`,
    "Password hashes and verifications running now.",
  );
  const queued = registry.gauge(
    `${prefix}_password_hashes_queued`,
    "Requests waiting for a password hashing slot.",
  );
  const peak = registry.gauge(
    `${prefix}_password_hashes_in_flight_peak`,
    "The most password hashes ever running at once (never above PASSWORD_HASH_CONCURRENCY).",
  );
  const rejected = registry.counter(
    `${prefix}_password_hash_rejections_total`,
    "Requests refused with 503 because every hashing slot and queue place was taken.",
  );
  const hashed = registry.counter(
    `${prefix}_password_hashes_total`,
    "Password hashes and verifications done (unknown accounts included).",
  );
  // Shown from the start, at 0.
  for (const g of [inFlight, queued, peak]) g.set(0);
  for (const c of [rejected, hashed]) c.inc(undefined, 0);
  return {
    inFlight: (n) => inFlight.set(n),
    queued: (n) => queued.set(n),
    peak: (n) => peak.set(n),
    rejected: () => rejected.inc(),
    hashed: () => hashed.inc(),
  };
}
