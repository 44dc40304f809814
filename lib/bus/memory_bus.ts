/**
 * The in-process bus: one single-partition log per topic, held in memory with a retention time
 * and a byte budget. Used when KAFKA_BROKERS is unset; lost when the process exits, which its
 * epoch makes visible to cursors. Compacted topics keep the latest record per key, outside the
 * budget (their size is bounded by their keys: the catalog's tables).
 */
import { SyncError } from "../errors.ts";
import type { Bus, BusMessage, BusRecord, Channel, Offsets, RecordsHandler } from "./bus.ts";

export interface MemoryBusOptions {
  retentionMs: number;
  maxBytes: number;
  now?: () => number;
}

const size = (m: BusMessage) => (m.value?.length ?? 0) + m.key.length;

class TopicLog {
  readonly compacted = false;
  records: BusRecord[] = [];
  head = 0; // index of the oldest retained record
  next = 0; // offset the next record gets

  get start(): number {
    return this.next - (this.records.length - this.head);
  }

  /**
   * Keeps the record without its parsed envelope (retained history is read back as JSON) and
   * returns it with the envelope, for the followers that get it now.
   */
  append(m: BusMessage, timestamp: number): BusRecord {
    const { topic, key, value, envelope, headers } = m;
    const offset = this.next++;
    const stored: BusRecord = {
      topic,
      key,
      value,
      partition: 0,
      offset,
      timestamp,
      ...(headers ? { headers } : {}),
    };
    this.records.push(stored);
    return envelope ? { ...stored, envelope } : stored;
  }

  oldest(): BusRecord | undefined {
    return this.records[this.head];
  }

  dropOldest(): BusRecord | undefined {
    const r = this.records[this.head];
    if (!r) return undefined;
    this.records[this.head++] = undefined as unknown as BusRecord;
    if (this.head > 1024 && this.head * 2 > this.records.length) {
      this.records = this.records.slice(this.head);
      this.head = 0;
    }
    return r;
  }

  slice(from: number, to: number): BusRecord[] {
    const base = this.start;
    return this.records.slice(this.head + from - base, this.head + to - base);
  }
}

/** A compacted topic: the latest record per key, in offset order; nothing expires. */
class CompactedLog {
  readonly compacted = true;
  private readonly latest = new Map<string, BusRecord>();
  next = 0;
  readonly start = 0; // reading from 0 gives what compaction kept

  append(m: BusMessage, timestamp: number): BusRecord {
    const { topic, key, value } = m;
    const record: BusRecord = { topic, key, value, partition: 0, offset: this.next++, timestamp };
    this.latest.delete(key); // re-inserted last: the map stays in offset order
    this.latest.set(key, record);
    return record;
  }

  oldest(): BusRecord | undefined {
    return undefined; // never trimmed
  }

  dropOldest(): BusRecord | undefined {
    return undefined;
  }

  slice(from: number, to: number): BusRecord[] {
    return [...this.latest.values()].filter((r) => r.offset >= from && r.offset < to);
  }
}

/**
 * One follower's queue: records are handed over in order, one batch at a time, and the next batch
 * waits while the follower's last handler call is still pending — its backpressure reaches the
 * publisher, whose `publish` resolves only once the follower has taken the records.
 */
class Follower {
  private readonly queue: { records: readonly BusRecord[]; taken: () => void }[] = [];
  private busy = false;
  private stopped = false;

  constructor(private readonly handler: RecordsHandler) {}

  offer(records: readonly BusRecord[]): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((taken) => {
      this.queue.push({ records, taken });
      if (!this.busy) this.pump();
    });
  }

  stop(): void {
    this.stopped = true;
    for (const { taken } of this.queue.splice(0)) taken();
  }

  private pump(): void {
    this.busy = true;
    while (!this.stopped) {
      const next = this.queue.shift();
      if (!next) break;
      let wait: void | Promise<void> = undefined;
      try {
        wait = this.handler(next.records);
      } catch { /* a failing follower must not fail the publisher */ }
      if (wait) {
        wait.catch(() => {}).then(() => {
          next.taken();
          this.pump();
        });
        return;
      }
      next.taken();
    }
    this.busy = false;
  }
}

export class MemoryBus implements Bus {
  readonly transport = "memory" as const;
  readonly epoch = `mem-${crypto.randomUUID()}`;
  private readonly logs = new Map<string, TopicLog | CompactedLog>();
  private readonly followers = new Set<Follower>();
  private bytes = 0;
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly options: MemoryBusOptions) {
    this.now = options.now ?? Date.now;
  }

  connect(): Promise<void> {
    return this.closed
      ? Promise.reject(new SyncError("unavailable", "bus is closed"))
      : Promise.resolve();
  }

  ensureTopic(topic: string, opts: { compacted?: boolean } = {}): Promise<void> {
    if (opts.compacted && !this.logs.get(topic)?.compacted) {
      this.logs.set(topic, new CompactedLog());
    } else this.log(topic);
    return Promise.resolve();
  }

  publish(messages: readonly BusMessage[], channel?: Channel): Promise<void> {
    if (channel?.failure !== undefined) return Promise.reject(channel.failure);
    if (this.closed) return Promise.reject(new SyncError("unavailable", "bus is closed"));
    if (messages.length === 0) return Promise.resolve();
    const now = this.now();
    const records = messages.map((m) => {
      const log = this.log(m.topic);
      if (!log.compacted) this.bytes += size(m);
      return log.append(m, now);
    });
    this.trim(now);
    if (this.followers.size === 0) return Promise.resolve();
    return Promise.all([...this.followers].map((f) => f.offer(records))).then(() => {});
  }

  follow(onRecords: RecordsHandler, signal: AbortSignal): Promise<ReadonlyMap<string, Offsets>> {
    const from = new Map([...this.logs].map(([topic, log]) => [topic, [log.next] as Offsets]));
    const follower = new Follower(onRecords);
    this.followers.add(follower);
    signal.addEventListener("abort", () => {
      this.followers.delete(follower);
      follower.stop();
    }, { once: true });
    return Promise.resolve(from);
  }

  range(topic: string): Promise<{ start: Offsets; end: Offsets }> {
    const log = this.logs.get(topic);
    return Promise.resolve({ start: [log?.start ?? 0], end: [log?.next ?? 0] });
  }

  async *read(topic: string, from: Offsets, to: Offsets): AsyncIterable<readonly BusRecord[]> {
    const log = this.logs.get(topic);
    const first = from[0] ?? 0;
    const last = Math.min(to[0] ?? 0, log?.next ?? 0);
    if (first < (log?.start ?? 0)) {
      throw new SyncError("cursor_expired", "the cursor is older than the retained history");
    }
    for (let at = first; log && at < last; at += 1000) {
      // Re-check each page: retention may have dropped records while the reader waited.
      if (at < log.start) {
        throw new SyncError("cursor_expired", "history expired while it was being read");
      }
      yield log.slice(at, Math.min(at + 1000, last));
    }
  }

  ready(): boolean {
    return !this.closed;
  }

  close(): Promise<void> {
    this.closed = true;
    for (const f of this.followers) f.stop();
    this.followers.clear();
    return Promise.resolve();
  }

  /** Bytes of records currently retained. */
  retainedBytes(): number {
    return this.bytes;
  }

  private log(topic: string): TopicLog | CompactedLog {
    let log = this.logs.get(topic);
    if (!log) this.logs.set(topic, log = new TopicLog());
    return log;
  }

  private trim(now: number): void {
    const horizon = now - this.options.retentionMs;
    for (const log of this.logs.values()) {
      while ((log.oldest()?.timestamp ?? Infinity) < horizon) this.drop(log);
    }
    while (this.bytes > this.options.maxBytes) {
      let oldest: TopicLog | CompactedLog | undefined;
      for (const log of this.logs.values()) {
        const r = log.oldest();
        if (r && (!oldest || r.timestamp < oldest.oldest()!.timestamp)) oldest = log;
      }
      if (!oldest) break;
      this.drop(oldest);
    }
  }

  private drop(log: TopicLog | CompactedLog): void {
    const r = log.dropOldest();
    if (r) this.bytes -= size(r);
  }
}
