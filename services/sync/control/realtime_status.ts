/**
 * What the control API and the scheduler need to know about realtime streaming (phase 2): whether
 * it runs, whether it has failed (then the scheduler starts fallback batch runs), and per table and
 * direction its lag and position. Phase 2's realtime component provides it; until then the service
 * uses `realtimeNotStarted`.
 */
import type { Direction, TableStatus } from "../state_store/store.ts";

export interface RealtimeTableState {
  /** Table name as configured. */
  name: string;
  direction: Direction;
  status: TableStatus;
  /** Commit time at the source of the last change applied, to now; null when nothing was seen. */
  lag_ms: number | null;
  position: string | null;
  error: string | null;
}

export interface RealtimeState {
  running: boolean;
  /** Why realtime has stopped working; unset while it works (or was never started). */
  failed?: string;
  tables: RealtimeTableState[];
}

export interface RealtimeStatus {
  state(): RealtimeState;
  /** Called on every change of `running` or `failed`; returns the unsubscribe. */
  onChange?(listener: (state: RealtimeState) => void): () => void;
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
