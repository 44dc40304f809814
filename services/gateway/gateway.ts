/**
 * The gateway service: follows the bus, fans records out to WebSocket subscribers (SPEC §4).
 * It serves HTTP at once; until the bus is reachable `/ready` is false and upgrades get 503.
 */
import { Hono } from "hono";
import type { AccessPolicy } from "../../lib/access.ts";
import type { Bus, BusRecord } from "../../lib/bus/bus.ts";
import { SyncError } from "../../lib/errors.ts";
import { clientAddress } from "../../lib/http/address.ts";
import { mountOps } from "../../lib/http/ops.ts";
import { tokenFromRequest, type TokenVerifier } from "../../lib/jwt.ts";
import type { Logger } from "../../lib/log.ts";
import { type Registry, SECONDS_BUCKETS } from "../../lib/metrics.ts";
import type { SnapshotReader } from "../../lib/snapshot.ts";
import type { TableInfo } from "../../lib/catalog.ts";
import type { Envelope } from "../../lib/envelope.ts";
import { catalogTableTopic, catalogTopic, isTableTopic } from "../../lib/topics.ts";
import { BusCatalog } from "./catalog.ts";
import { Congestion } from "./congestion.ts";
import type { DeviceSource } from "./devices.ts";
import { bucketUnknown } from "./filter.ts";
import { Hub } from "./hub.ts";
import {
  startWsServer,
  UpgradeError,
  upgradeWebSocket,
  type WsConnection,
  type WsServer,
} from "../../lib/websocket/mod.ts";
import { type GatewayLimits, Session, type SessionMetrics } from "./session.ts";
import { GatewayStats } from "./stats.ts";

export interface GatewayDeps {
  bus: Bus;
  /** The prefix of the bus's topics (KAFKA_TOPIC_PREFIX). */
  topicPrefix: string;
  /** Reads snapshots with the listener's credentials (in this process, or over HTTP). */
  snapshots: SnapshotReader;
  verifyToken: TokenVerifier;
  /** Who reads which table and which rows (SPEC §7). */
  policy: AccessPolicy;
  limits: GatewayLimits;
  /** Take the client address from the last X-Forwarded-For entry (behind a proxy you trust). */
  trustProxy?: boolean;
  log: Logger;
  registry: Registry;
  /** Stored device subscriptions (SPEC §10), from the hub database when the gateway has one. */
  devices?: DeviceSource | undefined;
}

export interface Gateway {
  readonly app: Hono;
  /** The fan-out hub, once the bus is followed. */
  readonly hub: Hub | undefined;
  /** Resolves once the gateway follows the bus. */
  readonly started: Promise<void>;
  ready(): Promise<boolean>;
  /**
   * Serves the gateway (HTTP and its WebSockets) on lib/websocket's server: message sizes are
   * checked from frame headers, before anything is buffered, and its shutdown always ends.
   */
  listen(opts: { hostname: string; port: number }): Promise<WsServer>;
  /** Stops following the bus and closes every socket with 1001. */
  stop(): Promise<void>;
}

/**
 * The largest message the server takes in before closing with 1009. Messages above the
 * session's own limit (WS_MAX_FRAME_BYTES) but below this get an error reply and the connection
 * stays open (SPEC §4); only a client sending far more than allowed is cut off.
 */
export function hardMessageLimit(maxFrameBytes: number): number {
  return Math.max(4 * maxFrameBytes, 64 * 1024);
}

export function createGateway(deps: GatewayDeps): Gateway {
  const { registry, log, bus } = deps;
  const connections = registry.gauge("synchub_gateway_connections", "Open WebSocket connections.");
  const metrics: SessionMetrics = {
    subscriptions: registry.gauge("synchub_gateway_subscriptions", "Active subscriptions."),
    snapshotRows: registry.counter(
      "synchub_gateway_snapshot_rows_total",
      "Rows read for snapshots.",
    ),
    messagesSent: registry.counter(
      "synchub_gateway_messages_sent_total",
      "Frames sent to clients.",
    ),
    bytesSent: registry.counter("synchub_gateway_bytes_sent_total", "Bytes sent to clients."),
    slowConsumerCloses: registry.counter(
      "synchub_gateway_slow_consumer_closes_total",
      "Connections closed with 1013 because the client could not keep up.",
    ),
    errors: registry.counter("synchub_gateway_errors_total", "Error replies sent, by code."),
  };
  const unknownBucket = registry.counter(
    "synchub_gateway_unknown_bucket_total",
    "Changes whose bucket could not be determined (the column missing from the row image): " +
      "delivered to admins and '*' tokens only.",
  );
  const refusedConnections = registry.counter(
    "synchub_gateway_refused_connections_total",
    "WebSocket upgrades refused, by reason.",
  );
  const hubMetrics = {
    deliveryLag: registry.histogram(
      "synchub_gateway_delivery_lag_seconds",
      "Seconds from commit at the source to fan-out by the gateway.",
      SECONDS_BUCKETS,
    ),
    badRecords: registry.counter(
      "synchub_gateway_bad_records_total",
      "Bus records that were not envelopes.",
    ),
    dispatch: registry.histogram(
      "synchub_gateway_dispatch_seconds",
      "Seconds to hand one batch of bus records to every subscriber.",
      [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5],
    ),
  };

  const stats = new GatewayStats({
    changes: registry.counter(
      "synchub_gateway_changes_total",
      "Changes taken from the bus (tombstones and hub events not counted).",
    ),
    delivered: registry.counter(
      "synchub_gateway_changes_delivered_total",
      "Change frames sent to clients.",
    ),
    connections,
    subscriptions: () => hub?.count() ?? 0,
  });

  // Backpressure: after a dispatch, the bus waits while the sockets written to drain.
  const congestion = new Congestion(deps.limits.maxBufferedBytes / 4);
  const following = new AbortController();
  const topicOf = (table: TableInfo) => catalogTableTopic(deps.topicPrefix, table);
  const catalog = new BusCatalog(
    bus,
    catalogTopic(deps.topicPrefix),
    log.child("catalog"),
    topicOf,
    (table) => log.info("serving table", { access: deps.policy.describe(table) }),
  );
  const inspect = (topic: string, e: Envelope) => {
    const table = catalog.tableOfTopic(topic);
    if (table && bucketUnknown(deps.policy.rule(table), e)) {
      unknownBucket.inc({ table: table.qualified });
    }
  };
  let hub: Hub | undefined;
  const started = (async () => {
    await bus.connect(following.signal);
    await bus.ensureTopic(catalog.topic, { compacted: true });
    // Records can arrive between `follow` and the hub's construction; hold them until then.
    const early: BusRecord[] = [];
    let dispatch: (records: readonly BusRecord[]) => void | Promise<void> = (records) => {
      early.push(...records);
    };
    const start = await bus.follow((records) => dispatch(records), following.signal);
    await catalog.load(start.get(catalog.topic) ?? []);
    const h = new Hub(bus.epoch, start, hubMetrics, log, inspect);
    const route = (records: readonly BusRecord[]) => {
      if (records.some((r) => r.topic === catalog.topic)) {
        catalog.apply(records.filter((r) => r.topic === catalog.topic));
        records = records.filter((r) => r.topic !== catalog.topic);
      }
      // Hub events (SPEC §10) share the prefix; they are for other consumers, not subscribers.
      if (records.some((r) => !isTableTopic(deps.topicPrefix, r.topic))) {
        records = records.filter((r) => isTableTopic(deps.topicPrefix, r.topic));
      }
      stats.taken(records);
      h.dispatch(records);
    };
    route(early);
    dispatch = (records) => {
      route(records);
      return congestion.wait();
    };
    hub = h;
    log.info("gateway follows the bus", { transport: bus.transport });
  })();
  started.catch((err) => {
    if (!following.signal.aborted) log.error("gateway could not follow the bus", { err });
  });
  // --- debezium branch: bus consumer lag (SPEC §12) ---
  const consumerLag = registry.gauge(
    "synchub_gateway_consumer_lag_records",
    "Records of each table topic the gateway has not dispatched yet (the topic's end minus its position).",
  );
  const lagTimer = setInterval(async () => {
    if (!hub) return;
    for (const topic of hub.topics().filter((t) => isTableTopic(deps.topicPrefix, t))) {
      const ends = await bus.range(topic).then((r) => r.end, () => undefined);
      if (!ends) continue;
      const at = hub.position(topic);
      consumerLag.set(ends.reduce((sum, end, p) => sum + Math.max(0, end - (at[p] ?? 0)), 0), {
        topic,
      });
    }
  }, 10_000);
  // --- end debezium branch ---

  const sockets = new Set<WsConnection>();
  const holders = new ConnectionCaps(
    deps.limits.maxConnectionsPerToken ?? 20,
    deps.limits.maxConnectionsPerAddress ?? 500,
  );
  const app = new Hono();
  mountOps(app, "gateway", registry, () => ({ bus: hub !== undefined && bus.ready() }));
  app.get("/stats", (c) => c.json(stats.body()));

  app.get("/v1/ws", async (c) => {
    const token = tokenFromRequest(c.req.raw);
    let claims;
    try {
      if (!token) {
        throw new SyncError(
          "unauthorized",
          "a token is required: Authorization: Bearer <jwt> or ?token=",
        );
      }
      claims = await deps.verifyToken(token);
    } catch (err) {
      const e = err instanceof SyncError ? err : new SyncError("unauthorized");
      return c.json(e.toBody(), 401);
    }
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      return c.json(new SyncError("bad_request", "expected a WebSocket upgrade").toBody(), 400);
    }
    if (!hub) {
      return c.json(
        new SyncError("unavailable", "the gateway is connecting to the bus; retry shortly")
          .toBody(),
        503,
      );
    }
    // Connection caps, per token holder and per address: a stranger cannot hold them all.
    const address = clientAddress(c, deps.trustProxy ?? false);
    const refusal = holders.refusal(claims.sub, address);
    if (refusal) {
      refusedConnections.inc({ reason: refusal.reason });
      return c.json(new SyncError("rate_limited", refusal.message).toBody(), 429, {
        "retry-after": "10",
      });
    }
    let upgrade;
    try {
      upgrade = upgradeWebSocket(c.req.raw);
    } catch (err) {
      if (err instanceof UpgradeError) return err.response(); // 400, or 426 for another version
      throw err;
    }
    holders.open(claims.sub, address);
    // Heartbeat: the server pings a quiet connection and drops it if still quiet (listen()).
    const { socket, response } = upgrade;
    const session = new Session(socket, claims, {
      ...deps,
      hub,
      catalog,
      topicOf,
      congestion,
      metrics,
      stats,
    });
    // The token's lifetime bounds the connection's.
    const expiresIn = Math.min(claims.exp * 1000 - Date.now(), 2 ** 31 - 1);
    const expiry = setTimeout(() => socket.close(4001, "token expired"), Math.max(0, expiresIn));
    socket.onopen = () => {
      sockets.add(socket);
      connections.inc();
      stats.connected(claims.sub);
    };
    socket.onmessage = (data) => session.receive(data);
    // Far over the size limit (hardMessageLimit): say why before the server closes with 1009.
    socket.onerror = (err) => session.refuse(err.message);
    let released = false;
    socket.onclose = () => {
      clearTimeout(expiry);
      if (sockets.delete(socket)) {
        connections.dec();
        stats.disconnected(claims.sub);
      }
      if (!released) holders.close(claims.sub, address);
      released = true;
      session.close();
    };
    return response;
  });

  app.notFound((c) => c.json(new SyncError("not_found", "no such route").toBody(), 404));
  app.onError((err, c) => {
    log.error("request failed", { err });
    return c.json(new SyncError("internal").toBody(), 500);
  });

  return {
    app,
    get hub() {
      return hub;
    },
    started,
    ready: () => Promise.resolve(hub !== undefined && bus.ready()),
    listen: ({ hostname, port }) =>
      startWsServer(app.fetch, {
        hostname,
        port,
        maxMessageBytes: hardMessageLimit(deps.limits.maxFrameBytes),
        idleTimeoutSeconds: deps.limits.idleTimeoutSeconds ?? 60,
        onError: (err) => log.error("gateway connection failed", { err }),
      }),
    stop() {
      clearInterval(lagTimer);
      following.abort();
      for (const s of sockets) s.close(1001, "gateway shutting down");
      return Promise.resolve();
    },
  };
}

/** Open connections per token holder and per client address, against their caps. */
class ConnectionCaps {
  private readonly bySub = new Map<string, number>();
  private readonly byAddress = new Map<string, number>();

  constructor(private readonly perToken: number, private readonly perAddress: number) {}

  refusal(sub: string, address: string): { reason: string; message: string } | undefined {
    if ((this.bySub.get(sub) ?? 0) >= this.perToken) {
      return {
        reason: "token",
        message: `at most ${this.perToken} open connections per token holder`,
      };
    }
    if ((this.byAddress.get(address) ?? 0) >= this.perAddress) {
      return {
        reason: "address",
        message: `at most ${this.perAddress} open connections per address`,
      };
    }
    return undefined;
  }

  open(sub: string, address: string): void {
    this.bySub.set(sub, (this.bySub.get(sub) ?? 0) + 1);
    this.byAddress.set(address, (this.byAddress.get(address) ?? 0) + 1);
  }

  close(sub: string, address: string): void {
    for (const [map, key] of [[this.bySub, sub], [this.byAddress, address]] as const) {
      const n = (map.get(key) ?? 1) - 1;
      if (n <= 0) map.delete(key);
      else map.set(key, n);
    }
  }
}
