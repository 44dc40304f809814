/** Realtime sync's metrics (SPEC §12: base units; label sets bounded by the configured tables). */
import type { Registry } from "../../../lib/metrics.ts";

export type RealtimeMetrics = ReturnType<typeof realtimeMetrics>;

export function realtimeMetrics(registry: Registry) {
  return {
    lag: registry.histogram(
      "synchub_sync_realtime_lag_seconds",
      "Commit at the source to commit on the other side, per table and direction.",
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    ),
    changes: registry.counter(
      "synchub_sync_realtime_changes_total",
      "Captured changes by direction and outcome: rows applied, skipped, conflict, parked, " +
        "rejected, or dropped (echo, snapshot, truncate, not_synced, replayed, schema_mismatch).",
    ),
    retries: registry.counter(
      "synchub_sync_realtime_retries_total",
      "Batches retried because the target or the state store refused them, by kind of failure.",
    ),
    pending: registry.gauge(
      "synchub_sync_realtime_pending_changes",
      "Changes received but not yet committed on the target; no position after them is confirmed.",
    ),
    captureUp: registry.gauge(
      "synchub_sync_realtime_capture_up",
      "1 while a side's capture streams, 0 while it starts or has failed.",
    ),
    captureFailures: registry.counter(
      "synchub_sync_realtime_capture_failures_total",
      "Times a side's capture failed (it is restarted with back-off from its stored position).",
    ),
  };
}
