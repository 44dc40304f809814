/**
 * The sync service's metrics (SPEC §12: base units, bounded labels — table names come from the
 * configuration, directions and statuses from fixed sets): runs and their durations, rows written
 * per table and direction, conflicts, errors, realtime lag, scheduled executions, SSE viewers,
 * control API requests. Rows, conflicts and table errors are counted where they are recorded, by
 * wrapping the state store, so batch runs and realtime are counted alike.
 */
import type { Registry } from "../../../lib/metrics.ts";
import type {
  ConflictRecord,
  Direction,
  NewConflict,
  RunRecord,
  StateStore,
  TableStatus,
} from "../state_store/store.ts";
import type { RealtimeState } from "./realtime_status.ts";

export type RunTrigger = "api" | "scheduler" | "fallback" | "first_start";

const DURATION_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

export function syncMetrics(registry: Registry) {
  const runs = registry.counter(
    "synchub_sync_runs_total",
    "Batch runs ended, by status and trigger.",
  );
  const duration = registry.histogram(
    "synchub_sync_run_duration_seconds",
    "Batch run durations in seconds, by status.",
    DURATION_BUCKETS,
  );
  const inProgress = registry.gauge("synchub_sync_run_in_progress", "1 while a batch run runs.");
  const rows = registry.counter(
    "synchub_sync_rows_written_total",
    "Rows written to a side (committed), by table and direction.",
  );
  const conflicts = registry.counter(
    "synchub_sync_conflicts_total",
    "Conflicts recorded, by table, conflict_type and outcome (parked or auto_resolved).",
  );
  const resolved = registry.counter(
    "synchub_sync_conflicts_resolved_total",
    "Parked conflicts resolved through the API, by resolution.",
  );
  const errors = registry.counter(
    "synchub_sync_errors_total",
    "Errors: a table failing (table), a run failing (run), a row refused by a target (apply).",
  );
  const realtimeUp = registry.gauge("synchub_sync_realtime_up", "1 while realtime streaming runs.");
  const scheduled = registry.counter(
    "synchub_sync_scheduled_total",
    "Scheduler executions, by outcome (started, fallback, skipped_running, skipped_unavailable).",
  );
  const viewersDropped = registry.counter(
    "synchub_sync_stream_viewers_dropped_total",
    "SSE viewers dropped for not keeping up.",
  );

  return {
    registry,
    runStarted: () => inProgress.set(1),
    runEnded(run: RunRecord, trigger: RunTrigger) {
      inProgress.set(0);
      runs.inc({ status: run.status, trigger });
      const ms = Date.parse(run.completed_at ?? "") - Date.parse(run.started_at);
      if (Number.isFinite(ms)) duration.observe(ms / 1000, { status: run.status });
      if (run.status === "failed") errors.inc({ kind: "run" });
    },
    resolved: (resolution: string) => resolved.inc({ resolution }),
    scheduled: (outcome: "started" | "fallback" | "skipped_running" | "skipped_unavailable") =>
      scheduled.inc({ outcome }),
    viewerDropped: () => viewersDropped.inc(),
    viewers: (count: () => number) =>
      registry.gauge("synchub_sync_stream_viewers", "Open SSE streams.", count),
    realtime(state: RealtimeState) {
      // Lag is realtime's own histogram (synchub_sync_realtime_lag_seconds, realtime/metrics.ts).
      realtimeUp.set(state.running && !state.failed ? 1 : 0);
    },
    /** The store, counting what passes through it; `onConflict` hears of each new conflict. */
    measure(store: StateStore, onConflict?: (c: ConflictRecord) => void): StateStore {
      return new MeasuredStore(store, {
        rows: (table, direction, n) => rows.inc({ table, direction }, n),
        conflict: (c) => {
          conflicts.inc({
            table: c.table,
            type: c.conflict_type,
            outcome: c.resolved ? "auto_resolved" : "parked",
          });
          if (c.conflict_type === "apply_error") errors.inc({ kind: "apply" });
          onConflict?.(c);
        },
        tableError: () => errors.inc({ kind: "table" }),
      });
    },
  };
}

export type SyncMetrics = ReturnType<typeof syncMetrics>;

interface Counts {
  rows(table: string, direction: Direction, n: number): void;
  conflict(c: ConflictRecord): void;
  tableError(): void;
}

class MeasuredStore implements StateStore {
  constructor(private readonly inner: StateStore, private readonly counts: Counts) {}

  async recordProgress(
    table: string,
    direction: Direction,
    p: { rows: number; position?: string },
  ) {
    await this.inner.recordProgress(table, direction, p);
    if (p.rows > 0) this.counts.rows(table, direction, p.rows);
  }
  async recordConflict(c: NewConflict) {
    const out = await this.inner.recordConflict(c);
    if (out.created) this.counts.conflict(out.record);
    return out;
  }
  async setTableStatus(table: string, d: Direction, status: TableStatus, error?: string | null) {
    await this.inner.setTableStatus(table, d, status, error);
    if (status === "error") this.counts.tableError();
  }

  isEmpty = () => this.inner.isEmpty();
  tableStates = () => this.inner.tableStates();
  tableState = (table: string, d: Direction) => this.inner.tableState(table, d);
  conflict = (id: string) => this.inner.conflict(id);
  listConflicts = (q: Parameters<StateStore["listConflicts"]>[0]) => this.inner.listConflicts(q);
  openConflicts = (table: string, keys: readonly string[]) => this.inner.openConflicts(table, keys);
  resolveConflict = (id: string, r: Parameters<StateStore["resolveConflict"]>[1]) =>
    this.inner.resolveConflict(id, r);
  startRun = (run: Parameters<StateStore["startRun"]>[0]) => this.inner.startRun(run);
  finishRun = (id: string, end: Parameters<StateStore["finishRun"]>[1]) =>
    this.inner.finishRun(id, end);
  run = (id: string) => this.inner.run(id);
  listRuns = (q: Parameters<StateStore["listRuns"]>[0]) => this.inner.listRuns(q);
  addTombstones = (table: string, keys: readonly string[]) => this.inner.addTombstones(table, keys);
  clearTombstones = (table: string, keys: readonly string[]) =>
    this.inner.clearTombstones(table, keys);
  tombstoned = (table: string, keys: readonly string[]) => this.inner.tombstoned(table, keys);
  capturePosition = (source: string) => this.inner.capturePosition(source);
  saveCapturePosition = (source: string, position: string) =>
    this.inner.saveCapturePosition(source, position);
  clearCapturePosition = (source: string) => this.inner.clearCapturePosition(source);
  ping = () => this.inner.ping();
  close = () => this.inner.close();
}
