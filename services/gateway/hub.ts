/**
 * Fan-out: every record the gateway follows goes to the subscriptions of its topic. The hub keeps
 * the offset it has reached per topic; a subscription made now starts there, so no change after
 * `subscribed` is missed. Each record's frame is built once and shared by every subscription that
 * has the same id and cursor (the common case: the first subscription of each connection).
 */
import type { BusRecord } from "../../lib/bus/bus.ts";
import { encodeCursor, type Offsets } from "../../lib/cursor.ts";
import type { Envelope } from "../../lib/envelope.ts";
import type { Logger } from "../../lib/log.ts";
import type { Counter, Histogram } from "../../lib/metrics.ts";
import { endSpan, SpanKind, startChildSpan } from "../../lib/tracing.ts";
import { fill, type FrameCache, parseRecord, type Subscription } from "./subscription.ts";

export interface HubMetrics {
  deliveryLag: Histogram;
  badRecords: Counter;
  /** Time to hand one batch of records to every subscriber. */
  dispatch: Histogram;
}

/** Looks at every envelope once, before fan-out (e.g. to count those of unknown bucket). */
export type Inspect = (topic: string, envelope: Envelope) => void;

export class Hub {
  private readonly positions = new Map<string, number[]>();
  private readonly subscriptions = new Map<string, Set<Subscription>>();

  constructor(
    readonly epoch: string,
    start: ReadonlyMap<string, Offsets>,
    private readonly metrics: HubMetrics,
    private readonly log: Logger,
    private readonly inspect: Inspect = () => {},
  ) {
    for (const [topic, offsets] of start) this.positions.set(topic, [...offsets]);
  }

  /** Where the hub stands in a topic: the next offset it will dispatch, per partition. */
  position(topic: string): number[] {
    return [...(this.positions.get(topic) ?? [])];
  }

  /** The topics the hub has records or a start position for. */
  topics(): string[] {
    return [...this.positions.keys()];
  }

  add(sub: Subscription): void {
    let set = this.subscriptions.get(sub.topic);
    if (!set) this.subscriptions.set(sub.topic, set = new Set());
    set.add(sub);
  }

  remove(sub: Subscription): void {
    sub.close();
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
      let position = this.positions.get(record.topic);
      if (!position) this.positions.set(record.topic, position = []);
      position[record.partition] = Math.max(position[record.partition] ?? 0, record.offset + 1);
      if (record.value === null) continue; // a tombstone: nothing to deliver
      const envelope = parseRecord(record);
      if (envelope) {
        this.metrics.deliveryLag.observe((now - envelope.source.ts_ms) / 1000);
        this.inspect(record.topic, envelope);
      } else {
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
      const cache: FrameCache | undefined = subs.size > 1 ? new Map() : undefined;
      const traced = startChildSpan("gateway.deliver", record.headers?.traceparent, {
        kind: SpanKind.CONSUMER,
        attributes: {
          "messaging.destination.name": record.topic,
          "synchub.subscriptions": subs.size,
        },
      });
      for (const sub of subs) sub.receive(record, envelope, cursor, cache);
      endSpan(traced?.span);
    }
    this.metrics.dispatch.observe((performance.now() - started) / 1000);
  }
}
