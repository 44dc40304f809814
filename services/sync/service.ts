/**
 * The sync service put together: the state store opened, the run controller, the event hub, the
 * scheduler and the control API (api/app.ts) on `server.port`; both sides opened in the
 * background (retrying with back-off while a database is unreachable, each failure logged, /ready
 * saying so), the marker tables ensured, realtime capture started (when `sync.realtime`; again
 * whenever PUT /api/v1/config replaces the databases), and on the first start (an empty state
 * store) one batch run by itself.
 */
import { Hono } from "hono";
import { serve } from "../../lib/http/serve.ts";
import { createTokenVerifier } from "../../lib/jwt.ts";
import type { HubEvents } from "../../lib/events.ts";
import type { Logger } from "../../lib/log.ts";
import { Registry } from "../../lib/metrics.ts";
import { backoffDelay, sleep } from "../../lib/retry.ts";
import { createControlApp } from "./api/app.ts";
import { type Side, SIDES, type SyncConfig } from "./config.ts";
import { EventHub } from "./control/events.ts";
import { syncMetrics } from "./control/metrics.ts";
import type { RealtimeStatus } from "./control/realtime_status.ts";
import { RunController } from "./control/run_controller.ts";
import { type ConfigSource, SyncRuntime } from "./control/runtime.ts";
import { Scheduler } from "./control/scheduler.ts";
import type { SyncDatabase } from "./engine/database.ts";
import { openDatabase } from "./engine/open.ts";
import { openStateStore } from "./state_store/open.ts";
import type { SyncContext } from "./context.ts";
import { type Realtime, startRealtime } from "./realtime/realtime.ts";
import { LateRealtimeStatus } from "./realtime/status.ts";

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
  /** Realtime's state as the control API sees it; unset: this service's own capture. */
  realtime?: RealtimeStatus;
  /** SSE heartbeat period (15 s). */
  heartbeatMs?: number;
  /**
   * The hub's events on its bus (SPEC §10): run outcomes as `sync.completed` / `sync.failed`, each
   * new conflict (batch or realtime) as `conflict.detected`. Unset: none are published.
   */
  events?: HubEvents | undefined;
}

export interface SyncService {
  readonly url: string;
  /** Settles when the databases are open and the first-start run (if any) has ended. */
  readonly firstRun: Promise<unknown>;
  readonly runtime: SyncRuntime;
  readonly runs: RunController;
  readonly scheduler: Scheduler;
  readonly hub: EventHub;
  /** Realtime sync's state, for the control API and the scheduler's fallback runs. */
  readonly realtime: RealtimeStatus;
  stop(): Promise<void>;
}

export async function startSync(deps: SyncDeps, signal: AbortSignal): Promise<SyncService> {
  const { config, log } = deps;
  const ownRealtime = new LateRealtimeStatus();
  const realtime = deps.realtime ?? ownRealtime;
  const registry = new Registry("sync");
  const metrics = syncMetrics(registry);
  const events = deps.events;
  const store = metrics.measure(
    await openStateStore(config.state_storage),
    events &&
      ((c) =>
        void events.emit("conflict.detected", {
          source: "sync",
          table: c.table,
          key: c.primary_key,
        })),
  );
  const runtime = new SyncRuntime(
    { config, source: deps.source, store, databases: undefined },
    log,
  );
  // deno-lint-ignore prefer-const
  let runs: RunController;
  const hub = new EventHub({
    snapshot: () => runs.snapshot(),
    onViewerDropped: () => metrics.viewerDropped(),
    forward: events &&
      ((type, data) => {
        if (type === "completed" || type === "failed") {
          void events.syncRun(type, data as Record<string, unknown>);
        }
      }),
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

  // Realtime capture follows the runtime's databases: started once they are open, restarted
  // when PUT /api/v1/config replaces them, one start or stop at a time.
  let capture: Realtime | undefined;
  let captureChange: Promise<void> = Promise.resolve();
  const restartCapture = (ctx: SyncContext) => {
    captureChange = captureChange.then(async () => {
      await capture?.stop();
      capture = undefined;
      ownRealtime.attach(undefined);
      if (work.signal.aborted || !ctx.config.sync.realtime) return;
      capture = await startRealtime(ctx, { registry, log: log.child("realtime") }, work.signal);
      if (capture) ownRealtime.attach(capture);
      await capture?.started;
    }).catch((err) => log.error("realtime capture could not start", { err }));
    return captureChange;
  };
  // A status handed in from outside (tests) stands for realtime: no capture of our own then.
  if (!deps.realtime) runtime.onContext((ctx) => void restartCapture(ctx));

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
    const empty = await runtime.store.isEmpty();
    runtime.attach(opened as Record<Side, SyncDatabase>); // starts realtime capture (onContext)
    // Capture starts before the first batch run reads, so nothing written meanwhile is missed.
    await captureChange;
    if (empty) {
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
    realtime,
    async stop() {
      work.abort();
      scheduler.stop();
      await runs.shutdown();
      await firstRun;
      await captureChange;
      await capture?.stop();
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
