/**
 * Scheduled batch runs (SPEC §8.1 `scheduler`), on a cron pattern through `croner` (maintained,
 * no dependencies, seconds-optional patterns, stoppable jobs; `Deno.cron` needs an unstable flag
 * and cannot be re-planned at run time). Each tick:
 * - `scheduler.enabled` → a scheduled run;
 * - otherwise, when realtime is configured but has failed → a fallback run, so the sides do not
 *   drift apart while nobody fixes it (a failure also starts one at once);
 * - a run already in progress → skipped.
 * Every execution is logged with its outcome.
 */
import { Cron } from "croner";
import { SyncError } from "../../../lib/errors.ts";
import type { Logger } from "../../../lib/log.ts";
import type { SyncConfig } from "../config.ts";
import type { SyncMetrics } from "./metrics.ts";
import type { RealtimeState, RealtimeStatus } from "./realtime_status.ts";
import type { RunController } from "./run_controller.ts";

export type TickOutcome =
  | "started"
  | "fallback"
  | "skipped_running"
  | "skipped_unavailable"
  | "nothing_to_do";

export class Scheduler {
  #job: Cron | undefined;
  #unsubscribe: (() => void) | undefined;
  #config: Pick<SyncConfig, "scheduler" | "sync"> | undefined;

  constructor(
    private readonly deps: {
      runs: RunController;
      realtime: RealtimeStatus;
      metrics: SyncMetrics;
      log: Logger;
    },
  ) {}

  /** (Re)plans from the configuration; called at start and when it changes. */
  configure(config: Pick<SyncConfig, "scheduler" | "sync">): void {
    this.#job?.stop();
    this.#config = config;
    this.#job = new Cron(
      config.scheduler.cron,
      { protect: true, unref: true },
      () => void this.tick(),
    );
    this.#unsubscribe ??= this.deps.realtime.onChange?.((s) => {
      if (s.failed && this.#config?.sync.realtime) void this.tick();
    });
    this.deps.log.info("scheduler planned", {
      cron: config.scheduler.cron,
      enabled: config.scheduler.enabled,
      next_run: this.#job.nextRun()?.toISOString() ?? null,
    });
  }

  /** One execution: what a cron tick (or a realtime failure) does. */
  async tick(): Promise<TickOutcome> {
    const { runs, realtime, metrics, log } = this.deps;
    const config = this.#config;
    if (!config) return "nothing_to_do";
    const failed = config.sync.realtime ? failure(realtime.state()) : undefined;
    const kind = config.scheduler.enabled ? "started" : failed ? "fallback" : undefined;
    if (!kind) {
      log.debug("scheduler tick: nothing to do (scheduler disabled, realtime fine)");
      return "nothing_to_do";
    }
    const reason = kind === "fallback" ? `realtime failed: ${failed}` : "schedule";
    if (runs.busy) {
      metrics.scheduled("skipped_running");
      log.info("scheduled run skipped: a run is in progress", { reason });
      return "skipped_running";
    }
    try {
      const run = await runs.trigger({}, kind === "fallback" ? "fallback" : "scheduler");
      metrics.scheduled(kind);
      log.info(kind === "fallback" ? "fallback run started" : "scheduled run started", {
        run_id: run.id,
        reason,
      });
      return kind;
    } catch (err) {
      const outcome = err instanceof SyncError && err.code === "conflict"
        ? "skipped_running"
        : "skipped_unavailable";
      metrics.scheduled(outcome);
      log.warn("scheduled run skipped", { reason, outcome, err });
      return outcome;
    }
  }

  stop(): void {
    this.#job?.stop();
    this.#job = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }
}

function failure(state: RealtimeState): string | undefined {
  return state.failed;
}
