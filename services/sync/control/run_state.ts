/**
 * The run lifecycle as a state machine (SPEC §8.3): `idle` before the first run, `running` while
 * one runs, then the run's end state — `completed`, `failed` or `cancelled` — until the next one
 * starts. Pure: the controller asks it before every change.
 */
import { SyncError } from "../../../lib/errors.ts";

export const RUN_STATES = ["idle", "running", "completed", "failed", "cancelled"] as const;
export type RunState = (typeof RUN_STATES)[number];
export type EndState = Exclude<RunState, "idle" | "running">;

export type RunEvent = { type: "start" } | { type: "end"; status: EndState };

/** The state after `event`; a start while running is a 409 `conflict`. */
export function nextRunState(state: RunState, event: RunEvent): RunState {
  if (event.type === "start") {
    if (state === "running") throw new SyncError("conflict", "a run is already in progress");
    return "running";
  }
  if (state !== "running") {
    throw new SyncError("internal", `a run cannot end (${event.status}) from ${state}`);
  }
  return event.status;
}

/** The state a service starts in, from the newest run of the history (or none). */
export function stateFromHistory(newest: { status: string } | undefined): RunState {
  if (!newest) return "idle";
  // A run still marked running was interrupted by a stop or a crash: the controller records it
  // as failed before serving.
  return (RUN_STATES as readonly string[]).includes(newest.status) && newest.status !== "running"
    ? newest.status as RunState
    : "failed";
}
