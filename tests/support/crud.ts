/** The CRUD app on a fresh test database, called through its fetch handler (no network). */
import { MemoryBus } from "../../lib/bus/memory_bus.ts";
import { HubEvents } from "../../lib/events.ts";
import { createTokenVerifier, signToken } from "../../lib/jwt.ts";
import { silentLogger } from "../../lib/log.ts";
import { Registry } from "../../lib/metrics.ts";
import { bucketColumns } from "../../lib/access.ts";
import { accessPolicy, parsePolicy } from "../../lib/access_policy.ts";
import { CatalogCache } from "../../lib/catalog.ts";
import { loadCatalog } from "../../lib/postgres/catalog.ts";
import { DeviceStore } from "../../lib/postgres/devices.ts";
import { createPool, type Pool } from "../../lib/postgres/pool.ts";
import { createCrudApp } from "../../services/crud/app.ts";
import { UserStore } from "../../services/crud/auth/users.ts";
import { BusPositions } from "../../services/crud/buckets/position.ts";
import { Checkpoints } from "../../services/crud/checkpoints/checkpoints.ts";
import { CheckpointStore } from "../../services/crud/checkpoints/store.ts";
import { RowStore } from "../../services/crud/rows/row_store.ts";
import { type TestDatabase, testDatabase } from "./postgres.ts";

/** Response bodies, as the tests read them. */
// deno-lint-ignore no-explicit-any
export type Json = any;

export const SECRET = "crud-test-secret-crud-test-secret-crud";

export interface Api {
  app: ReturnType<typeof makeApp>["app"];
  db: TestDatabase;
  pool: Pool;
  /** The app's own in-process bus (hub events, cursors). */
  bus: MemoryBus;
  checkpoints: Checkpoints;
  call(
    method: string,
    path: string,
    opts?: { token?: string | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: Json; headers: Headers }>;
  /** A token for `buckets`; `sub` names its holder (rate limits are per holder). */
  token(buckets: string[], sub?: string, role?: string): Promise<string>;
  close(): Promise<void>;
}

export const TEST_LIMITS = {
  maxBodyBytes: 64 * 1024,
  accessTokenTtlSeconds: 900,
  ratePerToken: 10_000,
  ratePerAddress: 10_000,
  authAttemptsPerMinute: 100_000,
  corsOrigins: [] as string[],
  trustProxy: true,
};

export function makeApp(
  url: string,
  limits: Partial<typeof TEST_LIMITS> = {},
  adminEmails: string[] = [],
  policyText?: string,
) {
  const policy = accessPolicy(policyText ? parsePolicy(policyText) : undefined, "bucket");
  const pool = createPool(url, { log: silentLogger, max: 4 });
  // SPEC §10: a bus of its own (events, cursors) and checkpoints in a directory of its own.
  const bus = new MemoryBus({ retentionMs: 3_600_000, maxBytes: 1 << 26 });
  const events = new HubEvents(bus, "synchub", silentLogger);
  const positions = new BusPositions(bus, "synchub");
  const dataDir = Deno.makeTempDirSync({ prefix: "synchub-crud-" });
  const checkpoints = new Checkpoints({
    databaseUrl: url,
    store: new CheckpointStore(pool),
    positions,
    events,
    dir: `${dataDir}/checkpoints`,
    retention: { count: 1000 },
    log: silentLogger,
  });
  const app = createCrudApp({
    store: new RowStore(pool),
    catalog: new CatalogCache(() => loadCatalog(pool, "synchub", bucketColumns(policy))),
    policy,
    users: new UserStore(pool, {
      passwordIterations: 1000,
      refreshTokenTtlMs: 3_600_000,
      adminEmails,
    }),
    verifyToken: createTokenVerifier(SECRET),
    jwtSecret: SECRET,
    limits: { ...TEST_LIMITS, ...limits },
    log: silentLogger,
    registry: new Registry("crud"),
    checks: async () => ({ database: await pool.query("SELECT 1").then(() => true, () => false) }),
    pool,
    events,
    positions,
    checkpoints,
    devices: new DeviceStore(pool),
  });
  const close = async () => {
    await checkpoints.close();
    await bus.close();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  };
  return { pool, app, bus, checkpoints, close };
}

export async function api(
  limits: Partial<typeof TEST_LIMITS> = {},
  adminEmails: string[] = [],
  policyText?: string,
): Promise<Api> {
  const db = await testDatabase();
  const { pool, app, bus, checkpoints, close } = makeApp(db.url, limits, adminEmails, policyText);
  const tokenA = await signToken(SECRET, { sub: "a", buckets: ["a"] });
  return {
    app,
    db,
    pool,
    bus,
    checkpoints,
    async call(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      const token = o.token === undefined ? tokenA : o.token;
      if (token) headers.authorization = `Bearer ${token}`;
      const body = o.body === undefined
        ? null
        : typeof o.body === "string"
        ? o.body
        : JSON.stringify(o.body);
      const res = await app.fetch(new Request(`http://crud${path}`, { method, headers, body }));
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch { /* not JSON */ }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    token: (buckets, sub = "x", role) => signToken(SECRET, { sub, buckets, role }),
    close: async () => {
      await close();
      await pool.end();
      await db.drop();
    },
  };
}
