/**
 * `stage_fanout`: the gateway's delivery of bus records to S subscribed connections, in process.
 * Each connection is lib/websocket's real `Connection` (frame encoding, outbox, the per-tick
 * flush) over a fake transport whose `write` only counts the bytes and completes at once; each
 * has a real `Session` that subscribed to public.bench_events with the bench's token (bucket
 * access, so every change passes the access check). Timed: for each 500-record batch, what the
 * gateway does when the bus hands it over — `GatewayStats.taken`, `Hub.dispatch` (cursor, access
 * decision, frame building, the sockets' queues), waiting on `Congestion`, and the outboxes'
 * flush into the transports. Not timed: making the records (published to a MemoryBus beforehand),
 * the kernel's `send(2)` and anything a client does.
 *
 * With `--transport=memory` the records carry their envelope, as the in-process bus hands them
 * over; with `--transport=kafka` they carry only their JSON, as a Kafka follower's do, so the
 * gateway parses each one (JSON.parse) and that is in the figure.
 */
import type { BusRecord } from "../lib/bus/bus.ts";
import { accessPolicy } from "../lib/access_policy.ts";
import { Catalog, type TableInfo } from "../lib/catalog.ts";
import type { BusMessage } from "../lib/bus/bus.ts";
import { silentLogger } from "../lib/log.ts";
import { Registry } from "../lib/metrics.ts";
import { loadConfig } from "../lib/config.ts";
import { Connection, type ConnectionHost } from "../lib/websocket/connection.ts";
import { FlushScheduler } from "../lib/websocket/outbox.ts";
import type { Transport, TransportEvents } from "../lib/websocket/transport.ts";
import { Congestion } from "../services/gateway/congestion.ts";
import { Hub } from "../services/gateway/hub.ts";
import { Session, type SessionMetrics } from "../services/gateway/session.ts";
import { GatewayStats } from "../services/gateway/stats.ts";
import { memoryBus } from "./stages_bus.ts";
import { medianOf, timed } from "./stages_timing.ts";
import { type Figure, round } from "./stats.ts";

export interface FanoutStageOptions {
  transport: "memory" | "kafka";
  table: TableInfo;
  topic: string;
  subscriptions: number;
  changes: number;
  rounds: number;
  /** `changes` bus messages of bench_events, made afresh per call. */
  batches(): BusMessage[];
}

const ADDR: Deno.NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 9 };

/** A socket that takes every write at once and counts the bytes. */
class CountingTransport implements Transport {
  readonly remoteAddr = ADDR;
  readonly localAddr = ADDR;
  readonly closed = Promise.resolve();
  bytes = 0;
  listen(_events: TransportEvents): void {}
  write(data: Uint8Array, done: (err?: unknown) => void): void {
    this.bytes += data.length;
    done();
  }
  closeWrite(): void {}
  close(): void {}
}

export async function fanoutStage(opts: FanoutStageOptions): Promise<Figure> {
  const { subscriptions, changes, topic } = opts;
  const config = loadConfig();
  const registry = new Registry("bench");
  const bus = memoryBus();
  const hub = new Hub(bus.epoch, new Map([[topic, [0]]]), {
    deliveryLag: registry.histogram("lag", "", [1]),
    badRecords: registry.counter("bad", ""),
    dispatch: registry.histogram("dispatch", "", [1]),
  }, silentLogger);
  const stats = new GatewayStats({
    changes: registry.counter("changes", ""),
    delivered: registry.counter("delivered", ""),
    connections: registry.gauge("connections", ""),
    subscriptions: () => hub.count(),
  });
  const metrics: SessionMetrics = {
    subscriptions: registry.gauge("subscriptions", ""),
    snapshotRows: registry.counter("snapshot_rows", ""),
    messagesSent: registry.counter("messages", ""),
    bytesSent: registry.counter("bytes", ""),
    slowConsumerCloses: registry.counter("slow", ""),
    errors: registry.counter("errors", ""),
  };
  const catalog = new Catalog([opts.table]);
  const congestion = new Congestion(config.gateway.maxBufferedBytes / 4);
  const deps = {
    hub,
    congestion,
    bus,
    catalog: {
      get: () => Promise.resolve(catalog),
      table: (n: string) => Promise.resolve(catalog.get(n)),
    },
    policy: accessPolicy(undefined, "bucket"),
    snapshots: { read: () => Promise.reject(new Error("no snapshots in this bench")) },
    topicOf: () => topic,
    limits: config.gateway,
    metrics,
    log: silentLogger,
    stats,
  };
  const host: ConnectionHost = {
    scheduler: new FlushScheduler(), // one per server, as lib/websocket has it
    closeTimeoutMs: 1_000,
    opened: () => {},
    closed: () => {},
    report: (err) => {
      throw err;
    },
  };
  const claims = { sub: "bench", buckets: ["bench"], exp: Date.now() / 1000 + 3600 };
  const transports: CountingTransport[] = [];
  const connections: { socket: Connection; session: Session }[] = [];
  try {
    for (let i = 0; i < subscriptions; i++) {
      const t = new CountingTransport();
      const socket = new Connection(t, host, 1 << 20);
      socket.open(new Uint8Array(0), new Uint8Array(0));
      const session = new Session(socket, claims, deps);
      session.receive(JSON.stringify({ type: "subscribe", table: opts.table.qualified }));
      transports.push(t);
      connections.push({ socket, session });
    }
    for (let i = 0; hub.count() < subscriptions; i++) {
      if (i > 1000) throw new Error(`only ${hub.count()} of ${subscriptions} subscribed`);
      await new Promise((r) => setTimeout(r, 1));
    }
    const bytesBefore = () => transports.reduce((n, t) => n + t.bytes, 0);
    let bytes = 0;
    const timing = await medianOf(opts.rounds, async () => {
      const batches = await records(opts);
      const delivered = stats.body().delivered_changes;
      const before = bytesBefore();
      const result = await timed(changes, async () => {
        for (const batch of batches) {
          stats.taken(batch);
          hub.dispatch(batch);
          const wait = congestion.wait();
          if (wait) await wait;
          await Promise.resolve(); // the outboxes flush in the microtask queued by dispatch
        }
      });
      const sent = stats.body().delivered_changes - delivered;
      if (sent !== changes * subscriptions) {
        throw new Error(`delivered ${sent} changes, expected ${changes * subscriptions}`);
      }
      bytes = bytesBefore() - before;
      return result;
    });
    return {
      bench: "stage_fanout",
      transport: opts.transport,
      subscriptions,
      changes,
      ...timing,
      deliveries_per_s: round(timing.ops_per_s * subscriptions, 0),
      cpu_us_per_delivery: round(timing.cpu_us_per_change / subscriptions, 3),
      bytes_per_delivery: round(bytes / (changes * subscriptions), 0),
    };
  } finally {
    for (const { socket, session } of connections) {
      session.close();
      socket.terminate();
    }
    await bus.close();
  }

  /** The next records of the topic, in 500-record batches, as the gateway's bus delivers them. */
  async function records(o: FanoutStageOptions): Promise<BusRecord[][]> {
    const taken: BusRecord[] = [];
    const following = new AbortController();
    await bus.follow((rs) => void taken.push(...rs), following.signal);
    const messages = o.batches();
    for (let i = 0; i < messages.length; i += 500) await bus.publish(messages.slice(i, i + 500));
    following.abort();
    const plain = o.transport === "kafka"
      ? taken.map(({ topic, key, value, partition, offset, timestamp }) => ({
        topic,
        key,
        value,
        partition,
        offset,
        timestamp,
      }))
      : taken;
    const out: BusRecord[][] = [];
    for (let i = 0; i < plain.length; i += 500) out.push(plain.slice(i, i + 500));
    return out;
  }
}
