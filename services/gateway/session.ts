/**
 * One WebSocket connection: its token, its subscriptions, its limits. Messages are handled one at
 * a time, in arrival order; a bad message gets an error reply and the connection stays open.
 */
import type { Bus } from "../../lib/bus/bus.ts";
import { type BucketGrant, grantOf } from "../../lib/buckets.ts";
import { covers, type Cursor, decodeCursor, encodeCursor } from "../../lib/cursor.ts";
import { asSyncError, SyncError } from "../../lib/errors.ts";
import type { Claims } from "../../lib/jwt.ts";
import type { Logger } from "../../lib/log.ts";
import type { Counter, Gauge } from "../../lib/metrics.ts";
import type { CatalogCache, TableInfo } from "../../lib/postgres/catalog.ts";
import type { SnapshotReader, SnapshotVisibility } from "../../lib/postgres/snapshot.ts";
import type { Congestion, Drainable } from "./congestion.ts";
import { compileWhere, deliveryFor } from "./filter.ts";
import { historyReply } from "./history.ts";
import { TokenBucket } from "../../lib/rate_limit.ts";
import { type Hub, offer, parseRecord, skip, type Subscription } from "./hub.ts";
import {
  clientMessageSchema,
  describeIssues,
  frames,
  refOf,
  type SubscribeMessage,
} from "./protocol.ts";

export interface GatewayLimits {
  maxFrameBytes: number;
  maxSubscriptions: number;
  /** Bytes queued on a socket beyond which its consumer counts as too slow (close 1013). */
  maxBufferedBytes: number;
  /** How long catch-up or a snapshot waits for a full socket to drain before closing it. */
  drainTimeoutMs?: number;
  /** Client messages per second (bursts up to twice that); beyond it: `rate_limited`. */
  maxMessagesPerSecond?: number;
  /** Seconds between server pings; a connection that misses a pong is closed. */
  idleTimeoutSeconds?: number;
}

export interface SessionMetrics {
  subscriptions: Gauge;
  snapshotRows: Counter;
  messagesSent: Counter;
  bytesSent: Counter;
  slowConsumerCloses: Counter;
  errors: Counter;
}

export interface SessionDeps {
  hub: Hub;
  congestion: Congestion;
  bus: Bus;
  catalog: CatalogCache;
  snapshots: SnapshotReader;
  topicOf(table: TableInfo): string;
  limits: GatewayLimits;
  metrics: SessionMetrics;
  log: Logger;
}

/** Thrown inside catch-up or a snapshot once the connection is gone: stop quietly. */
class Gone extends Error {}

export class Session {
  private readonly subs = new Map<string, Subscription>();
  private readonly grant: BucketGrant;
  private seq = 0;
  private work: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly rate: TokenBucket;
  private readonly drainable: Drainable = {
    buffered: () => this.socket.bufferedAmount,
    isClosed: () => this.closed,
  };

  constructor(
    private readonly socket: WebSocket,
    private readonly claims: Claims,
    private readonly deps: SessionDeps,
  ) {
    this.grant = grantOf(claims.buckets);
    const perSecond = deps.limits.maxMessagesPerSecond ?? 50;
    this.rate = new TokenBucket(perSecond, perSecond * 2);
  }

  /**
   * Queues an incoming frame; frames are handled strictly one after another. Past the message
   * rate a frame is refused at once with `rate_limited` (its ref echoed), before any work.
   */
  receive(data: unknown): void {
    if (!this.rate.take()) {
      this.deps.metrics.errors.inc({ code: "rate_limited" });
      const ref = typeof data === "string" && data.length <= this.deps.limits.maxFrameBytes
        ? refOf(safeJson(data))
        : undefined;
      this.send(frames.error(ref, "rate_limited", "too many messages: slow down"));
      return;
    }
    this.work = this.work.then(() => this.handle(data));
  }

  /** Drops every subscription; called when the socket closes. */
  close(): void {
    this.closed = true;
    for (const sub of this.subs.values()) this.deps.hub.remove(sub);
    this.deps.metrics.subscriptions.dec(undefined, this.subs.size);
    this.subs.clear();
  }

  private async handle(data: unknown): Promise<void> {
    if (this.closed) return;
    let ref: string | undefined;
    try {
      if (typeof data !== "string") {
        throw new SyncError(
          "bad_request",
          "binary frames are not supported; send JSON text frames",
        );
      }
      if (data.length > this.deps.limits.maxFrameBytes) {
        throw new SyncError("bad_request", `frame exceeds ${this.deps.limits.maxFrameBytes} bytes`);
      }
      let raw: unknown;
      try {
        raw = JSON.parse(data);
      } catch {
        throw new SyncError("bad_request", "malformed JSON");
      }
      ref = refOf(raw);
      const parsed = clientMessageSchema.safeParse(raw);
      if (!parsed.success) throw new SyncError("bad_request", describeIssues(parsed.error));
      const msg = parsed.data;
      switch (msg.type) {
        case "ping":
          return this.send(frames.pong(msg.ref));
        case "unsubscribe":
          return this.unsubscribe(msg.ref, msg.sub);
        case "subscribe":
          return await this.subscribe(msg);
        case "history": // SPEC §9 (services/gateway/history.ts)
          return this.send(
            await historyReply(msg, this.claims, this.grant, {
              ...this.deps,
              epoch: this.deps.hub.epoch,
            }),
          );
      }
    } catch (err) {
      if (err instanceof Gone) return;
      const e = asSyncError(err);
      if (e.code === "internal") this.deps.log.error("message handling failed", { err });
      this.deps.metrics.errors.inc({ code: e.wsCode });
      this.send(frames.error(ref, e.wsCode, e.message));
    }
  }

  private unsubscribe(ref: string | undefined, id: string): void {
    const sub = this.subs.get(id);
    if (!sub) throw new SyncError("not_found", `no subscription "${id}" on this connection`);
    this.drop(sub);
    this.send(frames.unsubscribed(ref, id));
  }

  private async subscribe(msg: SubscribeMessage): Promise<void> {
    const { hub, limits } = this.deps;
    if (this.subs.size >= limits.maxSubscriptions) {
      throw new SyncError(
        "bad_request",
        `at most ${limits.maxSubscriptions} subscriptions per connection`,
      );
    }
    if (msg.snapshot && msg.since !== undefined) {
      throw new SyncError(
        "bad_request",
        "snapshot and since exclude each other: since resumes, snapshot starts afresh",
      );
    }
    const table = await this.deps.catalog.table(msg.table).catch((err) => {
      this.deps.log.warn("catalog unavailable", { err });
      throw new SyncError("unavailable", "the table catalog is unreachable; retry shortly");
    });
    if (!table) throw new SyncError("not_found", `unknown table "${msg.table}"`);
    if (msg.snapshot && table.connector !== "postgres") {
      throw new SyncError(
        "bad_request",
        `snapshots are served for PostgreSQL tables; ${table.qualified} is a ${table.connector} table ` +
          "(its initial rows reach the bus as op r when the listener first captures it)",
      );
    }
    const filter = compileWhere(msg.where, table);
    const topic = this.deps.topicOf(table);
    // A table nobody has changed yet has no topic; make it, so the hub follows it from offset 0.
    await this.deps.bus.ensureTopic(topic).catch((err) => {
      this.deps.log.warn("could not prepare the table's topic", { topic, err });
      throw new SyncError("unavailable", "the bus is unreachable; retry shortly");
    });
    const since = msg.since === undefined
      ? undefined
      : await this.checkCursor(msg.since, topic, table);
    if (this.closed) return;

    // From here to `hub.add` nothing awaits: the hub's position and the subscription agree.
    const live = hub.position(topic);
    const from = since ? [...since.offsets] : live;
    const sub: Subscription = {
      id: `s${++this.seq}`,
      epoch: hub.epoch,
      topic,
      table,
      filter,
      grant: this.grant,
      next: [...from],
      buffer: since || msg.snapshot ? [] : null,
      bufferedBytes: 0,
      maxBufferedBytes: limits.maxBufferedBytes * 4,
      ahead: !covers(live, from),
      closed: false,
      send: (frame) => this.send(frame),
      overflow: () => this.tooSlow("live changes piled up while it caught up"),
    };
    hub.add(sub);
    this.subs.set(sub.id, sub);
    this.deps.metrics.subscriptions.inc();
    this.send(
      frames.subscribed(msg.ref, sub.id, encodeCursor({ epoch: hub.epoch, topic, offsets: from })),
    );
    try {
      if (since) await this.catchUp(sub, from, live);
      else if (msg.snapshot) await this.snapshot(sub, live);
    } catch (err) {
      this.drop(sub);
      throw err;
    }
  }

  private async checkCursor(text: string, topic: string, table: TableInfo): Promise<Cursor> {
    const since = decodeCursor(text);
    if (since.epoch !== this.deps.hub.epoch) {
      throw new SyncError("cursor_expired", "the cursor is from another bus log; subscribe afresh");
    }
    if (since.topic !== topic) {
      throw new SyncError(
        "bad_request",
        `the cursor belongs to another table, not ${table.qualified}`,
      );
    }
    if (!covers(since.offsets, (await this.deps.bus.range(topic)).start)) {
      throw new SyncError("cursor_expired", "the cursor is older than the retained history");
    }
    return since;
  }

  /** Replays [from, live) from the bus, then the live records that arrived meanwhile. */
  private async catchUp(sub: Subscription, from: number[], live: number[]): Promise<void> {
    for await (const batch of this.deps.bus.read(sub.topic, from, live)) {
      for (const record of batch) offer(sub, record, parseRecord(record));
      await this.drained();
      if (sub.closed) return;
    }
    this.goLive(sub);
  }

  /**
   * The table's current rows as `op:"r"` changes, then `synced`, then the live changes that
   * arrived meanwhile — except those whose transaction the snapshot already includes. Snapshot
   * rows carry the subscription's starting cursor: a client cut off before `synced` snapshots
   * again rather than resuming.
   */
  private async snapshot(sub: Subscription, live: number[]): Promise<void> {
    const { hub, snapshots, metrics } = this.deps;
    const cursor = encodeCursor({ epoch: hub.epoch, topic: sub.topic, offsets: live });
    let visibility: SnapshotVisibility;
    try {
      visibility = await snapshots.read(sub.table, sub.grant, async (envelopes) => {
        for (const e of envelopes) {
          if (sub.closed) throw new Gone();
          if (deliveryFor(sub.grant, sub.filter, sub.table, e) === "send") {
            this.send(frames.change(sub.id, cursor, JSON.stringify(e)));
          }
        }
        metrics.snapshotRows.inc(undefined, envelopes.length);
        await this.drained();
      });
    } catch (err) {
      if (err instanceof Gone || err instanceof SyncError) throw err;
      this.deps.log.warn("snapshot failed", { table: sub.table.qualified, err });
      throw new SyncError("unavailable", "the snapshot could not be read; subscribe again");
    }
    if (sub.closed) return;
    this.send(frames.synced(sub.id, cursor));
    this.goLive(sub, visibility);
  }

  /** Sends what waited in the buffer (minus what a snapshot already holds) and goes live. */
  private goLive(sub: Subscription, snapshot?: SnapshotVisibility): void {
    const waiting = sub.buffer ?? [];
    sub.buffer = null;
    sub.bufferedBytes = 0;
    for (const { record, envelope } of waiting) {
      if (envelope && snapshot?.includes(envelope.source.txId)) skip(sub, record);
      else offer(sub, record, envelope);
    }
  }

  private drop(sub: Subscription): void {
    this.deps.hub.remove(sub);
    if (this.subs.delete(sub.id)) this.deps.metrics.subscriptions.dec();
  }

  /**
   * Waits while the socket holds more than half its budget, so catch-up and snapshots cannot
   * flood it; a client that does not drain in time is closed as too slow.
   */
  private async drained(): Promise<void> {
    const limit = this.deps.limits.maxBufferedBytes / 2;
    const deadline = Date.now() + (this.deps.limits.drainTimeoutMs ?? 30_000);
    while (this.socket.bufferedAmount > limit) {
      if (this.closed) throw new Gone();
      if (Date.now() > deadline) {
        this.tooSlow("it did not read its catch-up");
        throw new Gone();
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    if (this.closed) throw new Gone();
  }

  private tooSlow(why: string): void {
    if (this.closed) return;
    this.deps.metrics.slowConsumerCloses.inc();
    this.deps.log.info("closing a consumer too slow to keep up", {
      why,
      buffered: this.socket.bufferedAmount,
    });
    this.socket.close(1013, "too slow: reconnect and resume with your last cursor");
    this.close();
  }

  /**
   * Sends a frame. Past the socket's hard limit the client is too slow (1013); above a quarter of
   * it the socket is noted as congested, so the bus waits for it to drain (backpressure).
   */
  private send(frame: string): void {
    if (this.closed || this.socket.readyState !== WebSocket.OPEN) return;
    this.socket.send(frame);
    this.deps.metrics.messagesSent.inc();
    this.deps.metrics.bytesSent.inc(undefined, frame.length);
    const buffered = this.socket.bufferedAmount;
    if (buffered > this.deps.limits.maxBufferedBytes) {
      return this.tooSlow("its send buffer is full");
    }
    this.deps.congestion.note(this.drainable, buffered);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
