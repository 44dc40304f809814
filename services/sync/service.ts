/**
 * The sync service put together: the state store opened, the run controller, the event hub, the
 * scheduler and the control API (api/app.ts) on `server.port`; both sides opened in the
 * background (retrying with back-off while a database is unreachable, each failure logged, /ready
 * saying so), the marker tables ensured, and on the first start (an empty state store) one batch
 * run by itself. Realtime (phase 2) attaches through `realtime` and `SyncRuntime.onContext`.
 */
import { Hono } from "hono";
import { serve } from "../../lib/http/serve.ts";
import { createTokenVerifier } from "../../lib/jwt.ts";
import type { Logger } from "../../lib/log.ts";
import { Registry } from "../../lib/metrics.ts";
import { backoffDelay, sleep } from "../../lib/retry.ts";
import { createControlApp } from "./api/app.ts";
import { type Side, SIDES, type SyncConfig } from "./config.ts";
import { EventHub } from "./control/events.ts";
import { syncMetrics } from "./control/metrics.ts";
import { realtimeNotStarted, type RealtimeStatus } from "./control/realtime_status.ts";
import { RunController } from "./control/run_controller.ts";
import { type ConfigSource, SyncRuntime } from "./control/runtime.ts";
import { Scheduler } from "./control/scheduler.ts";
import type { SyncDatabase } from "./engine/database.ts";
import { openDatabase } from "./engine/open.ts";
import { openStateStore } from "./state_store/open.ts";

export interface SyncDeps {
  config: SyncConfig;
  /** The file and its parsed document, for PUT /api/v1/config; unset: it answers 409. */
  source?: ConfigSource;
  log: Logger;
  host: string;
  /** The environment, for `${VAR}` references in a configuration sent to PUT /api/v1/config. */
  env?: () => Record<string, string | undefined>;
  /** JWT_SECRET: hub admin tokens are accepted besides server.auth_token. */
  jwtSecret?: string | undefined;
  realtime?: RealtimeStatus;
  /** SSE heartbeat period (15 s). */
  heartbeatMs?: number;
}

export interface SyncService {
  readonly url: string;
  /** Settles when the databases are open and the first-start run (if any) has ended. */
  readonly firstRun: Promise<unknown>;
  readonly runtime: SyncRuntime;
  readonly runs: RunController;
  readonly scheduler: Scheduler;
  readonly hub: EventHub;
  stop(): Promise<void>;
}

export async function startSync(deps: SyncDeps, signal: AbortSignal): Promise<SyncService> {
  const { config, log } = deps;
  const realtime = deps.realtime ?? realtimeNotStarted;
  const registry = new Registry("sync");
  const metrics = syncMetrics(registry);
  const store = metrics.measure(await openStateStore(config.state_storage));
  const runtime = new SyncRuntime(
    { config, source: deps.source, store, databases: undefined },
    log,
  );
  // deno-lint-ignore prefer-const
  let runs: RunController;
  const hub = new EventHub({
    snapshot: () => runs.snapshot(),
    onViewerDropped: () => metrics.viewerDropped(),
    ...(deps.heartbeatMs ? { heartbeatMs: deps.heartbeatMs } : {}),
  });
  metrics.viewers(() => hub.viewers);
  runs = new RunController({ runtime, hub, metrics, log });
  await runs.init();
  const scheduler = new Scheduler({ runs, realtime, metrics, log });
  scheduler.configure(config);

  const work = new AbortController();
  signal.addEventListener("abort", () => work.abort(), { once: true });
  const connecting = new AbortController();
  work.signal.addEventListener("abort", () => connecting.abort(), { once: true });

  const app = createControlApp({
    runtime,
    runs,
    hub,
    scheduler,
    realtime,
    metrics,
    registry,
    verifyToken: deps.jwtSecret ? createTokenVerifier(deps.jwtSecret) : undefined,
    checks: async () => ({
      local: (await runtime.databases?.local.ping()) ?? false,
      cloud: (await runtime.databases?.cloud.ping()) ?? false,
      state_store: await runtime.store.ping(),
    }),
    env: deps.env ?? (() => ({})),
    onDatabasesReplaced: () => connecting.abort(),
    log,
  });
  const server = serve("sync", (app as unknown as Hono).fetch, {
    host: deps.host,
    port: config.server.port,
    portVariable: "SYNC_PORT",
    log,
  });
  if (config.server.auth_token === undefined && !deps.jwtSecret) {
    log.warn("no server.auth_token and no JWT_SECRET: the control API refuses every request");
  }

  const firstRun = (async () => {
    const opened: Partial<Record<Side, SyncDatabase>> = {};
    for (const side of SIDES) {
      const db = await openWithRetry(side, config, log, connecting.signal);
      if (!db) break;
      opened[side] = db;
      await db.ensureMarkerTable();
    }
    if (connecting.signal.aborted) {
      // Stopped, or PUT /api/v1/config opened other databases meanwhile.
      await Promise.all(Object.values(opened).map((db) => db.close()));
      return;
    }
    runtime.attach(opened as Record<Side, SyncDatabase>);
    if (await runtime.store.isEmpty()) {
      log.info("empty state store: first batch run", { tables: config.sync.tables.length });
      await runs.trigger({}, "first_start");
      await runs.settled();
    }
  })().catch((err) => log.error("sync stopped working", { err }));

  return {
    url: server.url,
    firstRun,
    runtime,
    runs,
    scheduler,
    hub,
    async stop() {
      work.abort();
      scheduler.stop();
      await runs.shutdown();
      await firstRun;
      hub.close();
      await server.stop();
      const dbs = runtime.databases;
      await Promise.all([dbs?.local.close(), dbs?.cloud.close(), runtime.store.close()]);
    },
  };
}

async function openWithRetry(
  side: Side,
  config: SyncConfig,
  log: Logger,
  signal: AbortSignal,
): Promise<SyncDatabase | undefined> {
  const url = config.databases[side].url;
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      return await openDatabase(side, url, { connections: config.sync.workers * 2 + 1, log });
    } catch (err) {
      const kind = (err as { details?: { kind?: "auth" | "network" | "other" } }).details?.kind ??
        "other";
      const delay = backoffDelay(kind, attempt);
      log.warn("database not available; retrying", { side, attempt, retry_in_ms: delay, err });
      await sleep(delay, signal);
    }
  }
  return undefined;
}
