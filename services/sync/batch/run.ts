/**
 * A batch run over the configured tables (SPEC §8.2), `workers` tables at a time, recorded in
 * sync_history. Each table's failure (a schema mismatch, a database gone) marks that table
 * `error` and the others go on; the run then ends `failed` naming them. Cancelling through the
 * signal stops every table between two batches, so nothing is half-applied.
 */
import { SyncError } from "../../../lib/errors.ts";
import type { Mode, TableConfig } from "../config.ts";
import type { SyncContext } from "../context.ts";
import { errorText } from "../engine/db_errors.ts";
import type { ConflictRecord, Direction, RunRecord, RunTable } from "../state_store/store.ts";
import { syncTable } from "./table_sync.ts";

export interface RunOptions {
  /** Table names as configured; unset: all. */
  readonly tables?: readonly string[] | undefined;
  /** Unset: the configured mode. */
  readonly direction?: Mode | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: (p: { run_id: string } & RunTable) => void;
  readonly onConflict?: (c: ConflictRecord) => void;
  /** Called once the run is recorded, before any table starts. */
  readonly onStart?: (run: RunRecord) => void;
}

/** Throws SyncError bad_request for a table name the configuration does not have. */
export function selectTables(
  ctx: SyncContext,
  names: readonly string[] | undefined,
): TableConfig[] {
  const all = ctx.config.sync.tables;
  if (!names) return [...all];
  const unknown = names.filter((n) => !all.some((t) => t.name === n));
  if (unknown.length > 0) {
    throw new SyncError("bad_request", `not a configured table: ${unknown.join(", ")}`);
  }
  return all.filter((t) => names.includes(t.name));
}

export async function runBatch(ctx: SyncContext, opts: RunOptions = {}): Promise<RunRecord> {
  const tables = selectTables(ctx, opts.tables);
  const mode = opts.direction ?? ctx.config.sync.mode;
  const directions: Direction[] = mode === "bidirectional"
    ? ["local_to_cloud", "cloud_to_local"]
    : [mode];
  const signal = opts.signal ?? new AbortController().signal;
  const progress: RunTable[] = tables.map((t) => ({
    name: t.name,
    rows_done: 0,
    rows_total: 0,
    percent: 0,
  }));
  const run = await ctx.store.startRun({ direction: mode, tables: progress });
  opts.onStart?.(run);
  ctx.log.info("batch run started", { run_id: run.id, direction: mode, tables: tables.length });

  let written = 0;
  let conflicts = 0;
  const failures: string[] = [];
  let cancelled = false;
  const queue = tables.map((t, i) => ({ table: t, entry: progress[i]! }));
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      if (signal.aborted) {
        cancelled = true;
        return;
      }
      const { table, entry } = job;
      for (const d of directions) await ctx.store.setTableStatus(table.name, d, "running");
      try {
        const r = await syncTable(ctx, table, {
          mode,
          signal,
          onProgress: (rowsDone, rowsTotal) => {
            entry.rows_done = rowsDone;
            entry.rows_total = rowsTotal;
            entry.percent = rowsTotal === 0 ? 100 : Math.floor((100 * rowsDone) / rowsTotal);
            opts.onProgress?.({ run_id: run.id, ...entry });
          },
          onConflict: (c) => opts.onConflict?.(c),
        });
        written += r.written;
        conflicts += r.conflicts;
        cancelled ||= r.cancelled;
        for (const d of directions) await ctx.store.setTableStatus(table.name, d, "ok");
      } catch (err) {
        const reason = errorText(err);
        failures.push(`${table.name}: ${reason}`);
        ctx.log.warn("table failed in batch run", { run_id: run.id, table: table.name, err });
        for (const d of directions) {
          await ctx.store.setTableStatus(table.name, d, "error", reason).catch(() => {});
        }
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(ctx.config.sync.workers, Math.max(1, tables.length)) }, worker),
  );

  const status = cancelled ? "cancelled" : failures.length > 0 ? "failed" : "completed";
  const finished = await ctx.store.finishRun(run.id, {
    status,
    total_rows: written,
    conflicts_detected: conflicts,
    tables: progress,
    error: failures.length > 0
      ? `${failures.length} of ${tables.length} table(s) failed: ${failures.join("; ")}`
      : null,
  });
  ctx.log.info("batch run ended", {
    run_id: run.id,
    status,
    total_rows: written,
    conflicts_detected: conflicts,
    elapsed_ms: Date.parse(finished.completed_at ?? "") - Date.parse(finished.started_at),
  });
  return finished;
}
