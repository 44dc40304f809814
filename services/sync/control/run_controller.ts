/**
 * Batch runs as the control API sees them (SPEC §8.3): one at a time, started by the API, the
 * scheduler or the first start, stopped between two batches. It keeps the lifecycle state
 * (run_state.ts), the live progress of the current run, and tells the event hub what happens:
 * `status` on every change, `progress` per table when its percent moves, `conflict` for the
 * first conflicts of a run, then `completed` or `failed` with the run. The history itself is
 * the state store's (runBatch records it).
 */
import { SyncError } from "../../../lib/errors.ts";
import type { Logger } from "../../../lib/log.ts";
import { runBatch, selectTables } from "../batch/run.ts";
import type { Mode } from "../config.ts";
import type { ConflictRecord, RunRecord, RunTable } from "../state_store/store.ts";
import type { EventHub } from "./events.ts";
import type { RunTrigger, SyncMetrics } from "./metrics.ts";
import { nextRunState, type RunState, stateFromHistory } from "./run_state.ts";
import type { SyncRuntime } from "./runtime.ts";

/** Conflict events per run; past it the run's `conflicts_detected` still counts them all. */
const CONFLICT_EVENTS_PER_RUN = 500;

interface Current {
  run: RunRecord;
  abort: AbortController;
  done: Promise<RunRecord>;
  trigger: RunTrigger;
}

export interface TriggerRequest {
  tables?: readonly string[] | undefined;
  direction?: Mode | undefined;
}

export class RunController {
  #state: RunState = "idle";
  #current: Current | undefined;
  #last: RunRecord | null = null;
  /** Set while the configuration is being swapped: no run may start. */
  #held: string | undefined;

  constructor(
    private readonly deps: {
      runtime: SyncRuntime;
      hub: EventHub;
      metrics: SyncMetrics;
      log: Logger;
    },
  ) {}

  /** Reads the newest run; one still marked running was interrupted and is recorded failed. */
  async init(): Promise<void> {
    const store = this.deps.runtime.store;
    let [newest] = await store.listRuns({ limit: 1 });
    if (newest?.status === "running") {
      newest = await store.finishRun(newest.id, {
        status: "failed",
        total_rows: newest.total_rows,
        conflicts_detected: newest.conflicts_detected,
        tables: newest.tables,
        error: "interrupted: the service stopped during this run",
      });
      this.deps.log.warn("a run was interrupted by a stop or crash", { run_id: newest.id });
    }
    this.#last = newest ?? null;
    this.#state = stateFromHistory(newest);
  }

  get state(): RunState {
    return this.#state;
  }

  get busy(): boolean {
    return this.#current !== undefined;
  }

  /** The current run with its live progress, else the last one; null before any. */
  get run(): RunRecord | null {
    return this.#current?.run ?? this.#last;
  }

  /** `status` events and SSE snapshots carry this. */
  snapshot(): { state: RunState; run: RunRecord | null } {
    return { state: this.#state, run: this.run };
  }

  /**
   * Starts a run; resolves once it is recorded. 409 while one runs (or the configuration is
   * being applied), 400 for an unknown table, 503 while the databases are not open.
   */
  async trigger(req: TriggerRequest, trigger: RunTrigger): Promise<RunRecord> {
    const { runtime, hub, metrics, log } = this.deps;
    if (this.#held) throw new SyncError("conflict", this.#held);
    const ctx = runtime.context();
    selectTables(ctx, req.tables);
    const previous = this.#state;
    this.#state = nextRunState(this.#state, { type: "start" });
    const abort = new AbortController();
    const sent = new Map<string, number>();
    let conflictEvents = 0;
    let recorded: (run: RunRecord) => void = () => {};
    const started = new Promise<RunRecord>((resolve) => (recorded = resolve));
    const current: Current = {
      run: undefined as unknown as RunRecord,
      abort,
      trigger,
      done: null!,
    };
    this.#current = current;

    current.done = runBatch(ctx, {
      tables: req.tables,
      direction: req.direction,
      signal: abort.signal,
      onStart: (run) => {
        current.run = { ...run, tables: run.tables.map((t) => ({ ...t })) };
        metrics.runStarted();
        log.info("run started", { run_id: run.id, trigger, direction: run.direction });
        hub.publish("status", this.snapshot());
        recorded(current.run);
      },
      onProgress: ({ run_id, ...p }) => {
        const entry = current.run.tables.find((t) => t.name === p.name);
        if (entry) Object.assign(entry, p satisfies RunTable);
        if (sent.get(p.name) === p.percent) return;
        sent.set(p.name, p.percent);
        hub.publish("progress", {
          run_id,
          table: p.name,
          rows_done: p.rows_done,
          rows_total: p.rows_total,
          percent: p.percent,
        });
      },
      onConflict: (c: ConflictRecord) => {
        current.run.conflicts_detected++;
        if (conflictEvents++ < CONFLICT_EVENTS_PER_RUN) hub.publish("conflict", c);
      },
    }).then(
      (end) => this.#ended(current, end),
      (err) => {
        if (!current.run) throw err; // not even recorded: the trigger reports it
        log.error("run failed", { run_id: current.run.id, err });
        const message = err instanceof Error ? err.message : String(err);
        return this.#ended(current, {
          ...current.run,
          status: "failed",
          completed_at: new Date().toISOString(),
          error: `the run stopped: ${message}`,
        });
      },
    );
    try {
      return await Promise.race([started, current.done]);
    } catch (err) {
      this.#current = undefined;
      this.#state = previous;
      log.error("run could not start", { err });
      throw new SyncError("unavailable", "the run could not be recorded in the state store");
    }
  }

  /** Cancels the current run between two batches; resolves with its end. 409 when none runs. */
  async stop(): Promise<RunRecord> {
    const current = this.#current;
    if (!current?.run) throw new SyncError("conflict", "no run is in progress");
    this.deps.log.info("run stop requested", { run_id: current.run.id });
    current.abort.abort();
    return await current.done;
  }

  /**
   * Runs `fn` with no run in progress and none starting meanwhile (configuration changes):
   * 409 with `busyMessage` while one runs.
   */
  async exclusive<T>(busyMessage: string, fn: () => Promise<T>): Promise<T> {
    if (this.#current) throw new SyncError("conflict", busyMessage);
    if (this.#held) throw new SyncError("conflict", "the configuration is being changed");
    this.#held = "the configuration is being changed; retry in a moment";
    try {
      return await fn();
    } finally {
      this.#held = undefined;
    }
  }

  /** Resolves when no run is in progress. */
  async settled(): Promise<void> {
    await this.#current?.done.catch(() => {});
  }

  /** At shutdown: cancels the current run and waits for it to end. */
  async shutdown(): Promise<void> {
    const current = this.#current;
    if (!current) return;
    current.abort.abort();
    await current.done.catch(() => {});
  }

  #ended(current: Current, end: RunRecord): RunRecord {
    const { hub, metrics, log } = this.deps;
    this.#current = undefined;
    this.#last = end;
    this.#state = nextRunState(this.#state, {
      type: "end",
      status: end.status === "running" ? "failed" : end.status,
    });
    metrics.runEnded(end, current.trigger);
    log.info("run ended", {
      run_id: end.id,
      trigger: current.trigger,
      status: end.status,
      total_rows: end.total_rows,
      conflicts_detected: end.conflicts_detected,
    });
    if (end.status === "completed") hub.publish("completed", end);
    if (end.status === "failed") hub.publish("failed", end);
    hub.publish("status", this.snapshot());
    return end;
  }
}
