/** `GET /api/v1/sync/status` (SPEC §8.3): the run state, the run, realtime, and every table. */
import type { Direction, RunRecord } from "../state_store/store.ts";
import type { RealtimeStatus } from "./realtime_status.ts";
import type { RunController } from "./run_controller.ts";
import type { RunState } from "./run_state.ts";
import type { SyncRuntime } from "./runtime.ts";

export interface TableStatusView {
  name: string;
  direction: Direction;
  status: string;
  rows_synced: number;
  lag_ms: number | null;
  position: string | null;
  error: string | null;
  last_sync_time: string | null;
}

export interface SyncStatus {
  state: RunState;
  run: RunRecord | null;
  realtime: { enabled: boolean; running: boolean; failed: string | null };
  /** Both databases are open (false while the service still retries them at start). */
  connected: boolean;
  tables: TableStatusView[];
}

export async function syncStatus(
  runtime: SyncRuntime,
  runs: RunController,
  realtime: RealtimeStatus,
): Promise<SyncStatus> {
  const config = runtime.config;
  const live = realtime.state();
  const stored = new Map(
    (await runtime.store.tableStates()).map((s) => [`${s.table}\n${s.direction}`, s]),
  );
  const streaming = new Map(live.tables.map((t) => [`${t.name}\n${t.direction}`, t]));
  const directions: Direction[] = config.sync.mode === "bidirectional"
    ? ["local_to_cloud", "cloud_to_local"]
    : [config.sync.mode];
  const tables = config.sync.tables.flatMap((t) =>
    directions.map((direction): TableStatusView => {
      const s = stored.get(`${t.name}\n${direction}`);
      const r = streaming.get(`${t.name}\n${direction}`);
      return {
        name: t.name,
        direction,
        status: r?.status ?? s?.status ?? "idle",
        rows_synced: s?.rows_synced ?? 0,
        lag_ms: r?.lag_ms ?? null,
        position: r?.position ?? s?.position ?? null,
        error: r?.error ?? s?.error ?? null,
        last_sync_time: s?.last_sync_time ?? null,
      };
    })
  );
  return {
    ...runs.snapshot(),
    realtime: {
      enabled: config.sync.realtime,
      running: live.running,
      failed: live.failed ?? null,
    },
    connected: runtime.databases !== undefined,
    tables,
  };
}
