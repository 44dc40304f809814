/**
 * What realtime sync tells the control API and the scheduler (issue 16): whether capture runs,
 * why it cannot (`failed`: the scheduler's fallback batch runs go by it), and per table and
 * direction how it fares. A provider interface, so the API needs nothing else of realtime. Its
 * shape is the one the control API expects (`status` as the state store's table status); the
 * finer `state` says more.
 */
import type { Direction, TableStatus } from "../state_store/store.ts";

export type RealtimeTableState =
  /** Capture is being set up (slot, publication, binlog position). */
  | "starting"
  /** Changes flow: captured, applied, confirmed. */
  | "streaming"
  /** The target (or the state store) refuses for now: retried with back-off, nothing confirmed. */
  | "retrying"
  /** Schema mismatch (its changes are skipped until it is fixed), or capture failed. */
  | "error";

export interface RealtimeTableStatus {
  name: string;
  direction: Direction;
  /** idle while starting, ok while streaming, error while retrying or broken (see `error`). */
  status: TableStatus;
  state: RealtimeTableState;
  /** Rows this process has applied in realtime since it started. */
  rows_synced: number;
  /** Commit at the source → committed on the target, for the last change applied. */
  lag_ms: number | null;
  /** The source position up to which everything of this table is committed. */
  position: string | null;
  error: string | null;
}

export interface RealtimeState {
  /** Every captured side streams. */
  running: boolean;
  /** Why capture cannot run (a side's last attempt failed and it is not streaming). */
  failed?: string;
  tables: RealtimeTableStatus[];
}

export interface RealtimeStatus {
  state(): RealtimeState;
  /** Called on every change of `running` or `failed`; returns the unsubscribe. */
  onChange?(listener: (state: RealtimeState) => void): () => void;
}

/** The state store's word for a realtime table state. */
export function tableStatusOf(state: RealtimeTableState): TableStatus {
  return state === "starting" ? "idle" : state === "streaming" ? "ok" : "error";
}

/**
 * The provider the service hands out at once, before realtime has started (the databases open
 * first): not running until `attach`; listeners registered early carry over.
 */
export class LateRealtimeStatus implements RealtimeStatus {
  #inner: Required<RealtimeStatus> | undefined;
  readonly #listeners = new Set<(state: RealtimeState) => void>();

  attach(inner: Required<RealtimeStatus>): void {
    this.#inner = inner;
    inner.onChange((s) => {
      for (const l of this.#listeners) l(s);
    });
  }

  state(): RealtimeState {
    return this.#inner?.state() ?? { running: false, tables: [] };
  }

  onChange(listener: (state: RealtimeState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
