/**
 * What realtime sync tells the control API and the scheduler (issue 16): whether capture runs,
 * why it cannot (`failed`: the scheduler's fallback batch runs go by it), and per table and
 * direction how it fares. A provider interface, so the API needs nothing else of realtime.
 */
import type { Direction } from "../state_store/store.ts";

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
  status: RealtimeTableState;
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
}

/** Realtime switched off (`sync.realtime: false`): nothing runs, nothing fails. */
export const realtimeOff: RealtimeStatus = { state: () => ({ running: false, tables: [] }) };
