/**
 * What the control API and the scheduler need to know about realtime streaming (phase 2): whether
 * it runs, whether it has failed (then the scheduler starts fallback batch runs), and per table and
 * direction its lag and position. Phase 2's realtime component provides it; until then the service
 * uses `realtimeNotStarted`.
 */
import type { Direction, TableStatus } from "../state_store/store.ts";

/** Where one table and direction of realtime sync stands. */
export type RealtimePhase =
  /** Capture is being set up (slot, publication, binlog position). */
  | "starting"
  /** Changes flow: captured, applied, confirmed. */
  | "streaming"
  /** The target (or the state store) refuses for now: retried with back-off, nothing confirmed. */
  | "retrying"
  /** Schema mismatch (its changes are skipped until it is fixed), or capture failed. */
  | "error";

export interface RealtimeTableState {
  /** Table name as configured. */
  name: string;
  direction: Direction;
  /** idle while starting, ok while streaming, error while retrying or broken (see `error`). */
  status: TableStatus;
  /** The finer phase behind `status`. */
  state: RealtimePhase;
  /** Rows this process has applied in realtime since it started. */
  rows_synced: number;
  /** Commit at the source → committed on the target, for the last change applied; null before. */
  lag_ms: number | null;
  /** The source position up to which everything of this table is committed. */
  position: string | null;
  error: string | null;
}

export interface RealtimeState {
  /** Every captured side streams. */
  running: boolean;
  /** Why realtime cannot run (then the scheduler starts fallback batch runs); unset while it works. */
  failed?: string;
  tables: RealtimeTableState[];
}

export interface RealtimeStatus {
  state(): RealtimeState;
  /** Called on every change of `running` or `failed`; returns the unsubscribe. */
  onChange?(listener: (state: RealtimeState) => void): () => void;
}

/** The state store's word for a realtime phase. */
export function tableStatusOf(phase: RealtimePhase): TableStatus {
  return phase === "starting" ? "idle" : phase === "streaming" ? "ok" : "error";
}

/** Realtime not wired (phase 1): nothing runs, nothing failed. */
export const realtimeNotStarted: RealtimeStatus = {
  state: () => ({ running: false, tables: [] }),
};

/** A provider whose state is set by hand: for tests, and a base for the phase-2 component. */
export class RealtimeStatusBox implements RealtimeStatus {
  #state: RealtimeState = { running: false, tables: [] };
  readonly #listeners = new Set<(s: RealtimeState) => void>();

  state(): RealtimeState {
    return this.#state;
  }

  set(state: RealtimeState): void {
    const changed = state.running !== this.#state.running || state.failed !== this.#state.failed;
    this.#state = state;
    if (changed) { for (const l of this.#listeners) l(state); }
  }

  onChange(listener: (state: RealtimeState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
