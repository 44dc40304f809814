/**
 * The sync service put together: both sides opened (retrying with back-off while a database is
 * unreachable, each failure logged), the marker tables ensured, `/health`, `/ready` and
 * `/metrics` served, realtime capture started (when `sync.realtime`), and on the first start (an
 * empty state store) one batch run by itself. The control API (issue 16) attaches here.
 */
import { Hono } from "hono";
import { mountOps } from "../../lib/http/ops.ts";
import { serve } from "../../lib/http/serve.ts";
import type { Logger } from "../../lib/log.ts";
import { Registry } from "../../lib/metrics.ts";
import { backoffDelay, sleep } from "../../lib/retry.ts";
import { runBatch } from "./batch/run.ts";
import { type Side, SIDES, type SyncConfig } from "./config.ts";
import type { SyncContext } from "./context.ts";
import type { SyncDatabase } from "./engine/database.ts";
import { openDatabase } from "./engine/open.ts";
import { openStateStore } from "./state_store/open.ts";
import { type Realtime, startRealtime } from "./realtime/realtime.ts";
import { LateRealtimeStatus, type RealtimeStatus } from "./realtime/status.ts";

export interface SyncService {
  readonly url: string;
  /** Settles when the first-start batch run (if any) has ended. */
  readonly firstRun: Promise<unknown>;
  /** Realtime sync's state, for the control API and the scheduler's fallback runs. */
  readonly realtime: RealtimeStatus;
  stop(): Promise<void>;
}

export async function startSync(
  deps: { config: SyncConfig; log: Logger; host: string },
  signal: AbortSignal,
): Promise<SyncService> {
  const { config, log } = deps;
  const registry = new Registry("sync");
  const store = await openStateStore(config.state_storage);
  const opened: Partial<Record<Side, SyncDatabase>> = {};
  const app = new Hono();
  mountOps(app, "sync", registry, async () => ({
    local: (await opened.local?.ping()) ?? false,
    cloud: (await opened.cloud?.ping()) ?? false,
    state_store: await store.ping(),
  }));
  const server = serve("sync", app.fetch, {
    host: deps.host,
    port: config.server.port,
    portVariable: "SYNC_PORT",
    log,
  });
  const work = new AbortController();
  signal.addEventListener("abort", () => work.abort(), { once: true });
  let realtime: Realtime | undefined;
  const realtimeStatus = new LateRealtimeStatus();

  const firstRun = (async () => {
    for (const side of SIDES) {
      const db = await openWithRetry(side, config, log, work.signal);
      if (!db) return;
      opened[side] = db;
      await db.ensureMarkerTable();
    }
    const ctx: SyncContext = {
      config,
      databases: { local: opened.local!, cloud: opened.cloud! },
      store,
      log,
    };
    const empty = await store.isEmpty();
    // --- realtime (issue 15 phase 2): capture starts before the first batch run reads, so
    // nothing written meanwhile is missed.
    if (config.sync.realtime) {
      realtime = await startRealtime(ctx, { registry, log: log.child("realtime") }, work.signal);
      if (realtime) realtimeStatus.attach(realtime);
      await realtime?.started;
    }
    // --- end realtime
    if (empty) {
      log.info("empty state store: first batch run", { tables: config.sync.tables.length });
      await runBatch(ctx, { signal: work.signal });
    }
  })().catch((err) => log.error("sync stopped working", { err }));

  return {
    url: server.url,
    firstRun,
    realtime: realtimeStatus,
    async stop() {
      work.abort();
      await firstRun;
      await realtime?.stop();
      await server.stop();
      await Promise.all([opened.local?.close(), opened.cloud?.close(), store.close()]);
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
