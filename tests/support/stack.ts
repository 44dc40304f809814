/**
 * The whole hub in this process, as `deno task dev` runs it, on a test database and free ports.
 * With `kafka`, each service gets a Kafka bus of its own, as separate processes would.
 */
import { accessPolicy, parsePolicy } from "../../lib/access_policy.ts";
import type { Bus } from "../../lib/bus/bus.ts";
import { MemoryBus } from "../../lib/bus/memory_bus.ts";
import { type Config, loadConfig } from "../../lib/config.ts";
import type { Served } from "../../lib/http/serve.ts";
import { serviceTokens, signToken } from "../../lib/jwt.ts";
import type { SnapshotReader } from "../../lib/snapshot.ts";
import { HttpSnapshotReader } from "../../lib/snapshot_http.ts";
import { silentLogger } from "../../lib/log.ts";
import { serveCrud } from "../../services/crud/service.ts";
import { serveGateway } from "../../services/gateway/service.ts";
import { type ListenerService, serveListener } from "../../services/listener/service.ts";
import { testKafkaBus } from "./kafka.ts";
import { type TestDatabase, testDatabase } from "./postgres.ts";
import { waitFor } from "./wait.ts";

export const JWT_SECRET = "stack-test-secret-stack-test-secret-1234";

export interface Stack {
  db: TestDatabase;
  config: Config;
  /** The listener's bus. */
  bus: Bus;
  crud: Served;
  gateway: Served;
  listener: Served;
  wsUrl: string;
  token(buckets: string[], role?: string): Promise<string>;
  /** Stops the listener only (the bus and gateway stay), to start it again later. */
  stopListener(): Promise<void>;
  startListener(): void;
  /** Another gateway instance on the same bus (its own Kafka consumer); returns its WebSocket URL. */
  addGateway(): Promise<string>;
  close(): Promise<void>;
}

export interface StackOptions {
  env?: Record<string, string>;
  /** Kafka brokers: each service then talks through a Kafka bus of its own. */
  kafka?: string;
  /** False: no listener in this process (a test runs it as a process of its own). */
  listener?: boolean;
  /** The access policy file's text (YAML); unset: the built-in rules. */
  policy?: string;
  /** Runs on the fresh database before any service starts (tables they should serve). */
  setup?: (db: TestDatabase) => Promise<void>;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const db = await testDatabase();
  await opts.setup?.(db);
  const prefix = `s${crypto.randomUUID().replace(/-/g, "").slice(0, 10)}`;
  const dataDir = await Deno.makeTempDir({ prefix: "synchub-stack-" });
  const config = loadConfig([], {
    CRUD_PORT: "0",
    GATEWAY_PORT: "0",
    LISTENER_PORT: "0",
    REPLICATION_SLOT: `s_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`,
    LOG_LEVEL: "error",
    DATA_DIR: dataDir,
    KAFKA_TOPIC_PREFIX: opts.kafka ? prefix : "synchub",
    ...opts.env,
  });
  const memory = new MemoryBus({
    retentionMs: config.cursorRetentionMs,
    maxBytes: config.memoryBusMaxBytes,
  });
  const buses: Bus[] = [];
  const newBus = (): Bus => {
    const bus = opts.kafka
      ? testKafkaBus(opts.kafka, {
        prefix,
        layout: config.kafkaLayout,
        client: config.kafkaClient,
      })
      : memory;
    buses.push(bus);
    return bus;
  };
  const log = silentLogger;
  const policy = accessPolicy(
    opts.policy === undefined ? undefined : parsePolicy(opts.policy),
    config.bucketColumn,
  );
  const common = { config, policy, databaseUrl: db.url, log };
  const listenerBus = newBus();
  const inProcess = opts.listener !== false;
  const startListener = () => serveListener({ ...common, bus: listenerBus, jwtSecret: JWT_SECRET });
  const none: ListenerService = {
    url: "",
    port: 0,
    snapshots: { read: () => Promise.reject(new Error("no listener in this process")) },
    stop: () => Promise.resolve(),
  };
  let listener = inProcess ? startListener() : none;
  // As separate processes would, Kafka gateways ask the listener over HTTP; in memory, directly.
  const snapshots: SnapshotReader = {
    read: (request, onRows, signal) =>
      (opts.kafka
        ? new HttpSnapshotReader(listener.url, serviceTokens(JWT_SECRET, "gateway"))
        : listener.snapshots).read(request, onRows, signal),
  };
  const gateways: Served[] = [];
  const startGateway = async () => {
    const g = await serveGateway({ ...common, bus: newBus(), jwtSecret: JWT_SECRET, snapshots });
    gateways.push(g);
    await waitFor(
      () => fetch(`${g.url}/ready`).then((r) => (r.body?.cancel(), r.ok)),
      "the gateway to follow the bus",
    );
    return g;
  };
  const gateway = await startGateway();
  const crud = serveCrud({ ...common, jwtSecret: JWT_SECRET, bus: newBus() });
  if (inProcess) {
    await waitFor(
      () => fetch(`${listener.url}/ready`).then((r) => (r.body?.cancel(), r.ok)),
      "the listener",
    );
  }
  return {
    db,
    config,
    bus: listenerBus,
    crud,
    gateway,
    get listener() {
      return listener;
    },
    wsUrl: `${gateway.url.replace(/^http/, "ws")}/v1/ws`,
    token: (buckets, role) => signToken(JWT_SECRET, { sub: "tester", buckets, role }),
    stopListener: () => listener.stop(),
    startListener: () => {
      listener = startListener();
    },
    addGateway: async () => `${(await startGateway()).url.replace(/^http/, "ws")}/v1/ws`,
    close: async () => {
      await crud.stop();
      for (const g of gateways) await g.stop();
      await listener.stop();
      for (const b of new Set(buses)) await b.close();
      await db.drop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}
