/**
 * The whole hub in this process, as `deno task dev` runs it, on a test database and free ports.
 */
import type { Bus } from "../../lib/bus/bus.ts";
import { MemoryBus } from "../../lib/bus/memory_bus.ts";
import { type Config, loadConfig } from "../../lib/config.ts";
import type { Served } from "../../lib/http/serve.ts";
import { signToken } from "../../lib/jwt.ts";
import { silentLogger } from "../../lib/log.ts";
import { serveCrud } from "../../services/crud/crud.ts";
import { serveGateway } from "../../services/gateway/run.ts";
import { serveListener } from "../../services/listener/run.ts";
import { type TestDatabase, testDatabase } from "./postgres.ts";

export const JWT_SECRET = "stack-test-secret-stack-test-secret-1234";

export interface Stack {
  db: TestDatabase;
  config: Config;
  bus: Bus;
  crud: Served;
  gateway: Served;
  listener: Served;
  wsUrl: string;
  token(buckets: string[]): Promise<string>;
  /** Stops the listener only (the bus and gateway stay), to start it again later. */
  stopListener(): Promise<void>;
  startListener(): void;
  close(): Promise<void>;
}

export async function startStack(env: Record<string, string> = {}): Promise<Stack> {
  const db = await testDatabase();
  const config = loadConfig([], {
    CRUD_PORT: "0",
    GATEWAY_PORT: "0",
    LISTENER_PORT: "0",
    REPLICATION_SLOT: `s_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`,
    LOG_LEVEL: "error",
    ...env,
  });
  const bus = new MemoryBus({
    retentionMs: config.cursorRetentionMs,
    maxBytes: config.memoryBusMaxBytes,
  });
  const log = silentLogger;
  const common = { config, databaseUrl: db.url, log };
  let listener = serveListener({ ...common, bus });
  const gateway = await serveGateway({ ...common, bus, jwtSecret: JWT_SECRET });
  const crud = serveCrud({ ...common, jwtSecret: JWT_SECRET });
  const stack: Stack = {
    db,
    config,
    bus,
    crud,
    gateway,
    get listener() {
      return listener;
    },
    wsUrl: `${gateway.url.replace(/^http/, "ws")}/v1/ws`,
    token: (buckets) => signToken(JWT_SECRET, { sub: "tester", buckets }),
    stopListener: () => listener.stop(),
    startListener: () => {
      listener = serveListener({ ...common, bus });
    },
    close: async () => {
      await crud.stop();
      await gateway.stop();
      await listener.stop();
      await bus.close();
      await db.drop();
    },
  };
  return stack;
}
