/**
 * The in-process bus: one single-partition log per topic, held in memory with a retention time
 * and a byte budget. Used when KAFKA_BROKERS is unset; lost when the process exits, which its
 * epoch makes visible to cursors. Compacted topics keep the latest record per key, outside the
 * budget (their size is bounded by their keys: the catalog's tables).
 */
import { SyncError } from "../errors.ts";
import type { Bus, BusMessage, BusRecord, Channel, Offsets, RecordsHandler } from "./bus.ts";
import { SegmentLog, SegmentPool } from "./segments.ts";

export interface MemoryBusOptions {
  retentionMs: number;
  maxBytes: number;
  now?: () => number;
}

/** Largest segment: a sixteenth of the budget (so eviction frees memory in small steps), 64 B–256 KiB. */
const segmentBytes = (maxBytes: number) =>
  Math.min(256 * 1024, Math.max(64, Math.floor(maxBytes / 16)));

/** A topic's log: its records as bytes in segments (lib/bus/segments.ts), off the JS heap. */
class TopicLog {
  readonly compacted = false;
  private readonly segments: SegmentLog;

  constructor(private readonly topic: string, pool: SegmentPool) {
    this.segments = new SegmentLog(pool);
  }

  get start(): number {
    return this.segments.start;
  }

  get next(): number {
    return this.segments.next;
  }

  get bytes(): number {
    return this.segments.bytes;
  }

  /** Keeps the record's bytes and returns it with its envelope, for the followers that get it now. */
  append(m: BusMessage, timestamp: number): BusRecord {
    const offset = this.segments.append(m.key, m.value, timestamp);
    const { topic, key, value, envelope, headers } = m;
    // Headers (a change's trace context) reach the live followers; the history keeps no headers.
    const record: BusRecord = {
      topic,
      key,
      value,
      partition: 0,
      offset,
      timestamp,
      ...(headers ? { headers } : {}),
    };
    return envelope ? { ...record, envelope } : record;
  }

  oldestTimestamp(): number | undefined {
    return this.segments.oldestTimestamp();
  }

  dropOldest(): void {
    this.segments.dropOldest();
  }

  dropSegment(): void {
    this.segments.dropSegment();
  }

  slice(from: number, to: number): BusRecord[] {
    return this.segments.slice(from, to).map(({ key, value, offset, timestamp }) => ({
      topic: this.topic,
      key,
      value,
      partition: 0,
      offset,
      timestamp,
    }));
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
  private readonly pool: SegmentPool;
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly options: MemoryBusOptions) {
    this.now = options.now ?? Date.now;
    const largest = segmentBytes(options.maxBytes);
    // Reuse up to 1 MiB of expired segments (or two, for small budgets).
    this.pool = new SegmentPool(largest, Math.max(2, Math.floor((1 << 20) / largest)));
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
    const records = messages.map((m) => this.log(m.topic).append(m, now));
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

  /** Bytes held for retained records (their segments; compacted topics are not counted). */
  retainedBytes(): number {
    let bytes = 0;
    for (const log of this.logs.values()) if (!log.compacted) bytes += log.bytes;
    return bytes;
  }

  private log(topic: string): TopicLog | CompactedLog {
    let log = this.logs.get(topic);
    if (!log) this.logs.set(topic, log = new TopicLog(topic, this.pool));
    return log;
  }

  private trim(now: number): void {
    const horizon = now - this.options.retentionMs;
    const logs = [...this.logs.values()].filter((l): l is TopicLog => !l.compacted);
    for (const log of logs) {
      while ((log.oldestTimestamp() ?? Infinity) < horizon) log.dropOldest();
    }
    let bytes = logs.reduce((sum, log) => sum + log.bytes, 0);
    while (bytes > this.options.maxBytes) {
      let oldest: TopicLog | undefined;
      for (const log of logs) {
        const t = log.oldestTimestamp();
        if (t !== undefined && (!oldest || t < oldest.oldestTimestamp()!)) oldest = log;
      }
      if (!oldest) break;
      bytes -= oldest.bytes;
      oldest.dropSegment();
      bytes += oldest.bytes;
    }
  }
}
