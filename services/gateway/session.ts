/**
 * One WebSocket connection: its token, its subscriptions, its limits. Messages are handled one at
 * a time, in arrival order; a bad message gets an error reply and the connection stays open.
 */
import type { Bus } from "../../lib/bus/bus.ts";
import { type BucketGrant, grantOf } from "../../lib/buckets.ts";
import { covers, decodeCursor, encodeCursor } from "../../lib/cursor.ts";
import { asSyncError, SyncError } from "../../lib/errors.ts";
import type { Claims } from "../../lib/jwt.ts";
import type { Logger } from "../../lib/log.ts";
import type { Counter, Gauge } from "../../lib/metrics.ts";
import type { CatalogCache, TableInfo } from "../../lib/postgres/catalog.ts";
import { compileWhere } from "./filter.ts";
import { type Hub, offer, parseRecord, type Subscription } from "./hub.ts";
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
}

export interface SessionMetrics {
  subscriptions: Gauge;
  messagesSent: Counter;
  bytesSent: Counter;
  slowConsumerCloses: Counter;
  errors: Counter;
}

export interface SessionDeps {
  hub: Hub;
  bus: Bus;
  catalog: CatalogCache;
  topicOf(table: TableInfo): string;
  limits: GatewayLimits;
  metrics: SessionMetrics;
  log: Logger;
}

export class Session {
  private readonly subs = new Map<string, Subscription>();
  private readonly grant: BucketGrant;
  private seq = 0;
  private work: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly socket: WebSocket,
    claims: Claims,
    private readonly deps: SessionDeps,
  ) {
    this.grant = grantOf(claims.buckets);
  }

  /** Queues an incoming frame; frames are handled strictly one after another. */
  receive(data: unknown): void {
    this.work = this.work.then(() => this.handle(data));
  }

  /** Drops every subscription; called when the socket closes. */
  close(): void {
    this.closed = true;
    for (const sub of this.subs.values()) this.deps.hub.remove(sub);
    this.deps.metrics.subscriptions.dec({}, this.subs.size);
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
      }
    } catch (err) {
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
    const { hub, bus, catalog, limits } = this.deps;
    if (this.subs.size >= limits.maxSubscriptions) {
      throw new SyncError(
        "bad_request",
        `at most ${limits.maxSubscriptions} subscriptions per connection`,
      );
    }
    if (msg.snapshot) {
      throw new SyncError(
        "bad_request",
        "snapshot is not available yet on this gateway; subscribe without it",
      );
    }
    const table = await catalog.table(msg.table).catch((err) => {
      this.deps.log.warn("catalog unavailable", { err });
      throw new SyncError("unavailable", "the table catalog is unreachable; retry shortly");
    });
    if (!table) throw new SyncError("not_found", `unknown table "${msg.table}"`);
    const filter = compileWhere(msg.where, table);
    const topic = this.deps.topicOf(table);

    const since = msg.since === undefined ? undefined : decodeCursor(msg.since);
    if (since && since.epoch !== hub.epoch) {
      throw new SyncError("cursor_expired", "the cursor is from another bus log; subscribe afresh");
    }
    if (since && since.topic !== topic) {
      throw new SyncError(
        "bad_request",
        `the cursor belongs to another table, not ${table.qualified}`,
      );
    }
    if (since && !covers(since.offsets, (await bus.range(topic)).start)) {
      throw new SyncError("cursor_expired", "the cursor is older than the retained history");
    }
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
      buffer: since ? [] : null,
      ahead: !covers(live, from),
      closed: false,
      send: (frame) => this.send(frame),
    };
    hub.add(sub);
    this.subs.set(sub.id, sub);
    this.deps.metrics.subscriptions.inc();
    this.send(
      frames.subscribed(msg.ref, sub.id, encodeCursor({ epoch: hub.epoch, topic, offsets: from })),
    );
    if (since) await this.catchUp(sub, from, live);
  }

  /** Replays [from, live) from the bus, then the live records that arrived meanwhile. */
  private async catchUp(sub: Subscription, from: number[], live: number[]): Promise<void> {
    const { bus } = this.deps;
    try {
      for await (const batch of bus.read(sub.topic, from, live)) {
        for (const record of batch) offer(sub, record, parseRecord(record));
        await this.drained();
        if (sub.closed) return;
      }
    } catch (err) {
      this.drop(sub);
      throw err;
    }
    const waiting = sub.buffer ?? [];
    sub.buffer = null;
    for (const { record, envelope } of waiting) offer(sub, record, envelope);
  }

  private drop(sub: Subscription): void {
    this.deps.hub.remove(sub);
    if (this.subs.delete(sub.id)) this.deps.metrics.subscriptions.dec();
  }

  /** Waits while the socket holds more than half its budget, so catch-up cannot flood it. */
  private async drained(): Promise<void> {
    while (!this.closed && this.socket.bufferedAmount > this.deps.limits.maxBufferedBytes / 2) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private send(frame: string): void {
    if (this.closed || this.socket.readyState !== WebSocket.OPEN) return;
    const { metrics, limits } = this.deps;
    if (this.socket.bufferedAmount > limits.maxBufferedBytes) {
      metrics.slowConsumerCloses.inc();
      this.deps.log.info("closing a consumer too slow to keep up", {
        buffered: this.socket.bufferedAmount,
      });
      this.socket.close(1013, "too slow: reconnect and resume with your last cursor");
      this.close();
      return;
    }
    this.socket.send(frame);
    metrics.messagesSent.inc();
    metrics.bytesSent.inc({}, frame.length);
  }
}
