/**
 * One subscription: its table, filter and view (what the access policy lets it see), where it stands in its topic (next offset per
 * partition, so a record is never delivered twice whether it comes from catch-up or the live
 * stream), and the buffer that holds live records while it catches up or snapshots. The delivery
 * decision is here; sockets are not: frames go out through `send`.
 */
import type { Bus, BusRecord } from "../../lib/bus/bus.ts";
import type { TableInfo } from "../../lib/catalog.ts";
import { encodeCursor } from "../../lib/cursor.ts";
import type { Envelope } from "../../lib/envelope.ts";
import { envelopeJson } from "../../lib/envelope_json.ts";
import { inSnapshot, type SnapshotReader, type Visibility } from "../../lib/snapshot.ts";
import { deliveryFor, type Filter, movedEnvelope, type View } from "./filter.ts";
import { changeHead, frames } from "./protocol.ts";
import { encodeTextFrame } from "../../lib/websocket/mod.ts";

export interface SubscriptionInit {
  readonly id: string;
  readonly epoch: string;
  readonly topic: string;
  readonly table: TableInfo;
  readonly filter: Filter;
  /** What the token may see of the table (the access policy's decision). */
  readonly view: View;
  /** Where delivery starts, per partition. */
  readonly from: readonly number[];
  /** Where the hub stands now: a start beyond it was issued by a gateway further along. */
  readonly live: readonly number[];
  /** Live records wait in a buffer until `goLive` (catch-up or snapshot first). */
  readonly buffered: boolean;
  /** Bytes the buffer may hold before the client counts as too slow. */
  readonly maxBufferedBytes: number;
  /**
   * Resumed from a snapshot's cursor (a checkpoint, bucket data): the changes that snapshot
   * already holds are skipped, and every cursor sent keeps saying so.
   */
  readonly visibility?: Visibility | undefined;
  /** A message, or a whole WebSocket frame shared by several connections (`encodeTextFrame`). */
  send(frame: string | Uint8Array): void;
  /** The message `head + body + "}"` (a change), encoded straight into the connection's buffer. */
  sendChange(head: string, body: string): void;
  /** The buffer outgrew its budget. */
  overflow(): void;
}

/** Frames of one record already built, by subscription id: built once, sent to many. */
/** Frames built for one live record, by subscription id: connections whose subscription has the
 * same id (every client's first is `s1`) share the bytes. */
export type FrameCache = Map<string, Uint8Array>;

export class Subscription {
  readonly id: string;
  readonly topic: string;
  readonly table: TableInfo;
  /** Next offset to deliver, per partition; anything earlier has been handled. */
  readonly next: number[];
  closed = false;
  private buffer: { record: BusRecord; envelope: Envelope | undefined }[] | null;
  private bufferedBytes = 0;
  /**
   * Started beyond the hub's position: its cursors are its own until the hub catches up, never
   * the hub's, which would send it back to what it already has.
   */
  private readonly ahead: boolean;
  /** Already in the subscriber's snapshot (resumed from a snapshot's cursor). */
  private readonly held: ((change: Envelope["source"]) => boolean) | undefined;

  constructor(private readonly init: SubscriptionInit) {
    this.id = init.id;
    this.topic = init.topic;
    this.table = init.table;
    this.next = [...init.from];
    this.buffer = init.buffered ? [] : null;
    this.ahead = init.from.some((o, p) => o > (init.live[p] ?? 0));
    this.held = init.visibility ? inSnapshot(init.visibility) : undefined;
  }

  /** The cursor of where the subscription starts. */
  startCursor(): string {
    return this.cursorAt(this.init.from);
  }

  /**
   * A live record from the hub: delivered now, or buffered while catching up. `sharedCursor` is
   * the hub's position after the record, the same for every live subscription; `cache` lets
   * subscriptions with the same id on other connections reuse the frame.
   */
  receive(
    record: BusRecord,
    envelope: Envelope | undefined,
    sharedCursor: string,
    cache?: FrameCache,
  ): void {
    if (this.closed) return;
    if (this.buffer) {
      this.buffer.push({ record, envelope });
      this.bufferedBytes += record.value?.length ?? 0;
      if (this.bufferedBytes > this.init.maxBufferedBytes) this.init.overflow();
      return;
    }
    // The hub's cursor does not say what our snapshot holds: ours do.
    const shared = this.ahead || this.held ? undefined : sharedCursor;
    this.offer(record, envelope, shared, cache);
  }

  /** Replays [from, to) from the bus, then goes live. `pace` waits while the client is full. */
  async catchUp(bus: Bus, to: readonly number[], pace: () => Promise<void>): Promise<void> {
    for await (const batch of bus.read(this.topic, this.next, to)) {
      for (const record of batch) this.offer(record, parseRecord(record));
      await pace();
      if (this.closed) return;
    }
    this.goLive();
  }

  /**
   * The table's current rows as `op:"r"` changes, then `synced`, then the live changes that
   * arrived meanwhile — except those the snapshot already includes. Snapshot rows carry the
   * starting cursor: a client cut off before `synced` snapshots again rather than resuming.
   */
  async snapshot(
    reader: SnapshotReader,
    request: Parameters<SnapshotReader["read"]>[0],
    pace: () => Promise<void>,
    onRows: (n: number) => void,
  ): Promise<void> {
    const cursor = this.startCursor();
    const visibility = await reader.read(request, async (envelopes) => {
      for (const e of envelopes) {
        if (this.closed) throw new SubscriptionClosed();
        if (deliveryFor(this.init.view, this.init.filter, e) === "send") {
          this.init.send(frames.change(this.id, cursor, envelopeJson(e)));
        }
      }
      onRows(envelopes.length);
      await pace();
    });
    if (this.closed) return;
    this.init.send(frames.synced(this.id, cursor));
    this.goLive(visibility);
  }

  /** Sends what waited in the buffer (minus what a snapshot already holds) and goes live. */
  goLive(snapshot?: Visibility): void {
    const waiting = this.buffer ?? [];
    this.buffer = null;
    this.bufferedBytes = 0;
    const seen = snapshot ? inSnapshot(snapshot) : undefined;
    for (const { record, envelope } of waiting) {
      if (envelope && seen?.(envelope.source)) this.skip(record);
      else this.offer(record, envelope);
    }
  }

  close(): void {
    this.closed = true;
    this.buffer = null;
  }

  /**
   * Hands one record to the client: skipped when already handled, sent when the token and
   * filter allow it.
   */
  private offer(
    record: BusRecord,
    envelope: Envelope | undefined,
    sharedCursor?: string,
    cache?: FrameCache,
  ): void {
    if (this.closed || record.offset < (this.next[record.partition] ?? 0)) return;
    this.next[record.partition] = record.offset + 1;
    if (!envelope || record.value === null || this.held?.(envelope.source)) return;
    const delivery = deliveryFor(this.init.view, this.init.filter, envelope);
    if (delivery === null) return;
    const cursor = sharedCursor ?? this.cursorAt(this.next);
    if (delivery !== "send") {
      const moved = envelopeJson(movedEnvelope(envelope, delivery, this.init.view.rule));
      return this.init.send(frames.change(this.id, cursor, moved, delivery));
    }
    if (sharedCursor === undefined || cache === undefined) {
      return this.init.sendChange(changeHead(this.id, cursor), record.value);
    }
    let frame = cache.get(this.id);
    if (frame === undefined) {
      frame = encodeTextFrame(frames.change(this.id, cursor, record.value));
      cache.set(this.id, frame);
    }
    this.init.send(frame);
  }

  /** Marks a record handled without sending it (already in the subscriber's snapshot). */
  private skip(record: BusRecord): void {
    const p = record.partition;
    this.next[p] = Math.max(this.next[p] ?? 0, record.offset + 1);
  }

  private cursorAt(offsets: readonly (number | undefined)[]): string {
    return encodeCursor({
      epoch: this.init.epoch,
      topic: this.topic,
      offsets: fill(offsets),
      visibility: this.init.visibility,
    });
  }
}

/** Thrown inside a snapshot once the subscription is closed: stop reading quietly. */
export class SubscriptionClosed extends Error {}

export function parseRecord(record: BusRecord): Envelope | undefined {
  if (record.envelope) return record.envelope;
  if (record.value === null) return undefined;
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
