/**
 * One WebSocket connection: its token, its subscriptions, its limits. Messages are handled one at
 * a time, in arrival order; a bad message gets an error reply and the connection stays open.
 */
import {
  type AccessPolicy,
  type Principal,
  principalOf,
  readScope,
  tableRefusal,
} from "../../lib/access.ts";
import type { Bus } from "../../lib/bus/bus.ts";
import type { CatalogSource, TableInfo } from "../../lib/catalog.ts";
import { covers, type Cursor, decodePosition } from "../../lib/cursor.ts";
import { asSyncError, SyncError } from "../../lib/errors.ts";
import type { Claims } from "../../lib/jwt.ts";
import type { Logger } from "../../lib/log.ts";
import type { Counter, Gauge } from "../../lib/metrics.ts";
import { TokenBucket } from "../../lib/rate_limit.ts";
import type { SnapshotReader } from "../../lib/snapshot.ts";
import { type WsConnection, WsReadyState } from "../../lib/websocket/mod.ts";
import type { Congestion, Drainable } from "./congestion.ts";
import { DeviceLinks, type DeviceSource } from "./devices.ts";
import { compileWhere, equalities } from "./filter.ts";
import type { GatewayStats } from "./stats.ts";
import type { Hub } from "./hub.ts";
import {
  clientMessageSchema,
  describeIssues,
  frames,
  refOf,
  type ResumeDeviceMessage,
  type SubscribeMessage,
} from "./protocol.ts";
import { historyReply } from "./history.ts";
import { Subscription, SubscriptionClosed } from "./subscription.ts";

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
  /** Bytes of live changes one subscription may hold while it catches up or snapshots. */
  maxCatchUpBytes?: number;
  /** Open connections per token holder (`sub`) and per client address. */
  maxConnectionsPerToken?: number;
  maxConnectionsPerAddress?: number;
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
  catalog: CatalogSource;
  policy: AccessPolicy;
  snapshots: SnapshotReader;
  topicOf(table: TableInfo): string;
  limits: GatewayLimits;
  metrics: SessionMetrics;
  log: Logger;
  /** Stored device subscriptions (SPEC §10); absent where the gateway has no hub database. */
  devices?: DeviceSource | undefined;
  /** Counts the changes sent, for `GET /stats`. */
  stats?: Pick<GatewayStats, "changeSent"> | undefined;
}

/** Thrown inside catch-up or a snapshot once the connection is gone: stop quietly. */
class Gone extends Error {}

export class Session {
  private readonly subs = new Map<string, Subscription>();
  private readonly principal: Principal;
  private seq = 0;
  private work: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly rate: TokenBucket;
  private readonly devices: DeviceLinks;
  private readonly drainable: Drainable = {
    buffered: () => this.socket.bufferedAmount,
    isClosed: () => this.closed,
  };

  constructor(
    private readonly socket: WsConnection,
    claims: Claims,
    private readonly deps: SessionDeps,
  ) {
    this.principal = principalOf(claims);
    const perSecond = deps.limits.maxMessagesPerSecond ?? 50;
    this.rate = new TokenBucket(perSecond, perSecond * 2);
    this.devices = new DeviceLinks(deps.devices, claims.sub);
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

  /**
   * The server is about to close the connection for a protocol error (a message far over the
   * size limit, invalid UTF-8): the client is told why first.
   */
  refuse(why: string): void {
    this.deps.metrics.errors.inc({ code: "bad_request" });
    this.send(frames.error(undefined, "bad_request", why));
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
        case "history": // SPEC §9 (history.ts)
          return this.send(
            await historyReply(msg, this.principal, { ...this.deps, epoch: this.deps.hub.epoch }),
          );
        case "resume_device":
          return await this.resumeDevice(msg);
        case "ack":
          return await this.devices.ack(msg.sub, msg.cursor, this.deps.hub.epoch);
      }
    } catch (err) {
      if (err instanceof Gone || err instanceof SubscriptionClosed) return;
      this.reportError(ref, err);
    }
  }

  private reportError(ref: string | undefined, err: unknown, about = ""): void {
    const e = asSyncError(err);
    if (e.code === "internal") this.deps.log.error("message handling failed", { err });
    this.deps.metrics.errors.inc({ code: e.wsCode });
    this.send(frames.error(ref, e.wsCode, about + e.message));
  }

  /** Every stored subscription of the device, each answered by `subscribed` or an error. */
  private async resumeDevice(msg: ResumeDeviceMessage): Promise<void> {
    for (const stored of await this.devices.resume(msg.device, msg.ref)) {
      try {
        if (stored.subscribe instanceof SyncError) throw stored.subscribe;
        await this.subscribe(stored.subscribe, stored.id);
      } catch (err) {
        if (err instanceof Gone || err instanceof SubscriptionClosed) throw err;
        this.reportError(msg.ref, err, `subscription ${stored.id}: `);
      }
    }
  }

  private unsubscribe(ref: string | undefined, id: string): void {
    const sub = this.subs.get(id);
    if (!sub) throw new SyncError("not_found", `no subscription "${id}" on this connection`);
    this.drop(sub);
    this.send(frames.unsubscribed(ref, id));
  }

  /** `stored`: the device subscription being resumed. */
  private async subscribe(msg: SubscribeMessage, stored?: string): Promise<void> {
    const { hub, limits, metrics } = this.deps;
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
    const table = await this.deps.catalog.table(msg.table);
    if (!table) throw new SyncError("not_found", `unknown table "${msg.table}"`);
    const rule = this.deps.policy.rule(table);
    const refusal = tableRefusal(this.principal, rule, table.qualified, "read");
    if (refusal) throw refusal;
    const view = { scope: readScope(this.principal, rule)!, rule };
    if (msg.snapshot && !table.snapshots) {
      throw new SyncError(
        "bad_request",
        `snapshots are not served for ${table.qualified}, a ${table.connector} table ` +
          "(its initial rows reach the bus as op r when the listener first captures it)",
      );
    }
    const filter = compileWhere(msg.where, table);
    const topic = this.deps.topicOf(table);
    // A table nobody has changed yet may have no topic; make it, so the hub follows it from 0.
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
    const sub = new Subscription({
      id: `s${++this.seq}`,
      epoch: hub.epoch,
      topic,
      table,
      filter,
      view,
      from: since ? since.offsets : live,
      live,
      buffered: since !== undefined || msg.snapshot === true,
      maxBufferedBytes: limits.maxCatchUpBytes ?? limits.maxBufferedBytes * 4,
      visibility: since?.visibility,
      send: (frame) => this.send(frame),
      sendChange: (head, body) => this.sendChange(head, body),
      overflow: () => this.tooSlow("live changes piled up while it caught up"),
    });
    hub.add(sub);
    this.subs.set(sub.id, sub);
    metrics.subscriptions.inc();
    if (stored !== undefined) this.devices.link(sub.id, stored, topic);
    this.send(frames.subscribed(msg.ref, sub.id, sub.startCursor(), stored));
    const pace = () => this.drained();
    try {
      if (since) await sub.catchUp(this.deps.bus, live, pace);
      else if (msg.snapshot) {
        await sub.snapshot(
          this.deps.snapshots,
          {
            source: table.source,
            table: table.qualified,
            scope: view.scope,
            bucketColumn: rule.bucketColumn,
            equalities: equalities(filter),
          },
          pace,
          (n) => metrics.snapshotRows.inc(undefined, n),
        ).catch((err) => {
          if (err instanceof Gone || err instanceof SubscriptionClosed) throw err;
          if (err instanceof SyncError && err.code !== "internal") throw err;
          this.deps.log.warn("snapshot failed", { table: table.qualified, err });
          throw new SyncError("unavailable", "the snapshot could not be read; subscribe again");
        });
      }
    } catch (err) {
      this.drop(sub);
      throw err;
    }
  }

  private async checkCursor(text: string, topic: string, table: TableInfo): Promise<Cursor> {
    // A c1 cursor names one topic; a snapshot's (c2) may name every table of a checkpoint.
    const position = decodePosition(text);
    if (position.epoch !== this.deps.hub.epoch) {
      throw new SyncError("cursor_expired", "the cursor is from another bus log; subscribe afresh");
    }
    const offsets = position.offsets[topic];
    if (!offsets) {
      throw new SyncError(
        "bad_request",
        `the cursor belongs to another table, not ${table.qualified}`,
      );
    }
    if (!covers(offsets, (await this.deps.bus.range(topic)).start)) {
      throw new SyncError("cursor_expired", "the cursor is older than the retained history");
    }
    return { epoch: position.epoch, topic, offsets, visibility: position.visibility };
  }

  private drop(sub: Subscription): void {
    this.deps.hub.remove(sub);
    this.devices.unlink(sub.id);
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
  /** Sends a message, or a whole WebSocket frame shared with other connections. */
  private send(frame: string | Uint8Array): void {
    if (this.closed || this.socket.readyState !== WsReadyState.OPEN) return;
    if (typeof frame === "string") this.socket.send(frame);
    else this.socket.sendFrame(frame);
    this.sent(frame.length, typeof frame !== "string" || frame.startsWith('{"type":"change"'));
  }

  /** Sends a change as `head + body + "}"`, encoded straight into the socket's buffer. */
  private sendChange(head: string, body: string): void {
    if (this.closed || this.socket.readyState !== WsReadyState.OPEN) return;
    this.socket.sendText(head, body, "}");
    this.sent(head.length + body.length + 1, true);
  }

  private sent(length: number, change: boolean): void {
    this.deps.metrics.messagesSent.inc();
    this.deps.metrics.bytesSent.inc(undefined, length);
    if (change) this.deps.stats?.changeSent();
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
