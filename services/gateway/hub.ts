/**
 * Fan-out: every record the gateway follows goes to the subscriptions of its topic. The hub keeps
 * the offset it has reached per topic; a subscription made now starts there, so no change after
 * `subscribed` is missed. Each subscription keeps its own next offsets, so a record is never
 * delivered twice, whether it comes from catch-up reading or from the live stream.
 */
import type { BusRecord } from "../../lib/bus/bus.ts";
import type { BucketGrant } from "../../lib/buckets.ts";
import { encodeCursor, type Offsets } from "../../lib/cursor.ts";
import type { Envelope } from "../../lib/envelope.ts";
import type { Logger } from "../../lib/log.ts";
import type { Counter, Histogram } from "../../lib/metrics.ts";
import type { TableInfo } from "../../lib/postgres/catalog.ts";
import { deliveryFor, type Filter, movedEnvelope } from "./filter.ts";
import { frames } from "./protocol.ts";

export interface Subscription {
  readonly id: string;
  readonly epoch: string;
  readonly topic: string;
  readonly table: TableInfo;
  readonly filter: Filter;
  readonly grant: BucketGrant;
  /** Next offset to deliver, per partition; anything earlier has been handled. */
  readonly next: number[];
  /** While the subscription catches up or snapshots, live records wait here. */
  buffer: Pending[] | null;
  /** Bytes waiting in `buffer`; past the session's budget the client is too slow. */
  bufferedBytes: number;
  /**
   * Started from a cursor beyond this hub's position (issued by a gateway further along): its
   * cursors are its own until then, never the hub's, which would replay what it already has.
   */
  ahead: boolean;
  closed: boolean;
  send(frame: string): void;
  /** Called when `buffer` outgrows its budget. */
  overflow(): void;
  readonly maxBufferedBytes: number;
}

export interface Pending {
  readonly record: BusRecord;
  readonly envelope: Envelope | undefined;
}

export interface HubMetrics {
  deliveryLag: Histogram;
  badRecords: Counter;
  /** Time to hand one batch of records to every subscriber. */
  dispatch: Histogram;
}

export class Hub {
  private readonly positions = new Map<string, number[]>();
  private readonly subscriptions = new Map<string, Set<Subscription>>();

  constructor(
    readonly epoch: string,
    start: ReadonlyMap<string, Offsets>,
    private readonly metrics: HubMetrics,
    private readonly log: Logger,
  ) {
    for (const [topic, offsets] of start) this.positions.set(topic, [...offsets]);
  }

  /** Where the hub stands in a topic: the next offset it will dispatch, per partition. */
  position(topic: string): number[] {
    return [...(this.positions.get(topic) ?? [])];
  }

  add(sub: Subscription): void {
    let set = this.subscriptions.get(sub.topic);
    if (!set) this.subscriptions.set(sub.topic, set = new Set());
    set.add(sub);
  }

  remove(sub: Subscription): void {
    sub.closed = true;
    sub.buffer = null;
    const set = this.subscriptions.get(sub.topic);
    set?.delete(sub);
    if (set?.size === 0) this.subscriptions.delete(sub.topic);
  }

  count(): number {
    let n = 0;
    for (const set of this.subscriptions.values()) n += set.size;
    return n;
  }

  dispatch(records: readonly BusRecord[]): void {
    const started = performance.now();
    const now = Date.now();
    for (const record of records) {
      const position = this.positions.get(record.topic) ?? [];
      this.positions.set(record.topic, position);
      position[record.partition] = Math.max(position[record.partition] ?? 0, record.offset + 1);
      const envelope = parseRecord(record);
      if (envelope) this.metrics.deliveryLag.observe(now - envelope.source.ts_ms);
      else {
        this.metrics.badRecords.inc({ topic: record.topic });
        this.log.warn("skipping a bus record that is not an envelope", {
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
        });
      }
      const subs = this.subscriptions.get(record.topic);
      if (!subs) continue;
      const cursor = encodeCursor({
        epoch: this.epoch,
        topic: record.topic,
        offsets: fill(position),
      });
      for (const sub of subs) {
        if (!sub.buffer) {
          offer(sub, record, envelope, cursor);
          continue;
        }
        sub.buffer.push({ record, envelope });
        sub.bufferedBytes += record.value.length;
        if (sub.bufferedBytes > sub.maxBufferedBytes) sub.overflow();
      }
    }
    this.metrics.dispatch.observe(performance.now() - started);
  }
}

/**
 * Hands one record to one subscription: skipped when already handled, sent when the token and
 * filter allow it. `sharedCursor`, the hub's position after the record, is computed once per record
 * for live fan-out; without it the subscription's own position is used.
 */
export function offer(
  sub: Subscription,
  record: BusRecord,
  envelope: Envelope | undefined,
  sharedCursor?: string,
  built?: Map<string, string>,
): void {
  if (sub.closed || record.offset < (sub.next[record.partition] ?? 0)) return;
  sub.next[record.partition] = record.offset + 1;
  if (!envelope) return;
  const delivery = deliveryFor(sub.grant, sub.filter, sub.table, envelope);
  if (delivery === null) return;
  const cursor = sharedCursor !== undefined && !sub.ahead
    ? sharedCursor
    : encodeCursor({ epoch: sub.epoch, topic: sub.topic, offsets: fill(sub.next) });
  if (delivery === "send") {
    const shared = sharedCursor !== undefined && !sub.ahead && built;
    let frame = shared ? built.get(sub.id) : undefined;
    if (frame === undefined) {
      frame = frames.change(sub.id, cursor, record.value);
      if (shared) built.set(sub.id, frame);
    }
    sub.send(frame);
  } else {
    const moved = JSON.stringify(movedEnvelope(envelope, delivery, sub.table));
    sub.send(frames.change(sub.id, cursor, moved, delivery));
  }
}

/** Marks a record handled without sending it (already in the subscriber's snapshot). */
export function skip(sub: Subscription, record: BusRecord): void {
  const p = record.partition;
  sub.next[p] = Math.max(sub.next[p] ?? 0, record.offset + 1);
}

export function parseRecord(record: BusRecord): Envelope | undefined {
  if (record.envelope) return record.envelope;
  try {
    const e = JSON.parse(record.value);
    return typeof e === "object" && e !== null && typeof e.op === "string" && e.source
      ? e
      : undefined;
  } catch {
    return undefined;
  }
}

/** Offsets with holes (partitions not yet seen) filled with 0. */
export function fill(offsets: readonly (number | undefined)[]): number[] {
  return Array.from(offsets, (o) => o ?? 0);
}
