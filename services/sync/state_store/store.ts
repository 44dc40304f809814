/**
 * The sync service's state (SPEC §8.2): per table and direction its position and status, the
 * conflicts, the run history, and tombstones of deletes seen in realtime (so a batch run never
 * brings back a row deleted on one side). One interface; sibling implementations for SQLite
 * (the embedded default), PostgreSQL and MySQL pass one contract suite.
 */
import type { Row } from "../../../lib/envelope.ts";

export type Direction = "local_to_cloud" | "cloud_to_local";
export type TableStatus = "idle" | "running" | "ok" | "error";

export interface TableState {
  table: string;
  direction: Direction;
  /** Opaque source position (binlog file/pos or GTID set, LSN); null before realtime ran. */
  position: string | null;
  rows_synced: number;
  status: TableStatus;
  error: string | null;
  last_sync_time: string | null;
}

export type ConflictType =
  /** Both sides changed the row since it was last in sync (realtime). */
  | "update_update"
  /** One side deleted the row, the other changed it. */
  | "update_delete"
  /** A batch run found the row different on the two sides, with no record of who changed it. */
  | "diverged"
  /** The target refused the row (a constraint, a value it cannot store). */
  | "apply_error";

export interface NewConflict {
  table: string;
  primary_key: Row;
  /** Identifies the row: the same for both directions (see row_hash.ts keyHash). */
  key_hash: string;
  local_data: Row | null;
  cloud_data: Row | null;
  conflict_type: ConflictType;
  /**
   * Set when a strategy settled it at once; unset: parked until resolved through the API.
   * `versions` names the two versions (their row hashes): the other direction meeting the same
   * pair adds no second record.
   */
  resolved_by?: { strategy: string; data: Row | null; versions: string };
  error?: string;
}

export interface ConflictRecord {
  id: string;
  table: string;
  primary_key: Row;
  local_data: Row | null;
  cloud_data: Row | null;
  conflict_type: ConflictType;
  detected_at: string;
  resolved: boolean;
  resolution_strategy: string | null;
  resolved_at: string | null;
  resolved_data: Row | null;
  error: string | null;
}

export type RunStatus = "running" | "completed" | "failed" | "cancelled";
export interface RunTable {
  name: string;
  rows_done: number;
  rows_total: number;
  percent: number;
}
export interface RunRecord {
  id: string;
  status: RunStatus;
  direction: string;
  started_at: string;
  completed_at: string | null;
  total_rows: number;
  conflicts_detected: number;
  tables: RunTable[];
  error: string | null;
}

export interface StateStore {
  /** True when nothing was ever recorded: the service's first start. */
  isEmpty(): Promise<boolean>;

  tableStates(): Promise<TableState[]>;
  tableState(table: string, direction: Direction): Promise<TableState | null>;
  setTableStatus(
    table: string,
    direction: Direction,
    status: TableStatus,
    error?: string | null,
  ): Promise<void>;
  /**
   * Called only after the target committed the rows: adds them to rows_synced, stamps
   * last_sync_time and, when given, stores the position the batch reached.
   */
  recordProgress(
    table: string,
    direction: Direction,
    progress: { rows: number; position?: string },
  ): Promise<void>;

  /**
   * One record per row: an unresolved conflict for the same row is updated rather than repeated,
   * and an auto-resolved one with the same two versions (seen from the other direction) is
   * recorded once. `created` says whether this call added a record.
   */
  recordConflict(c: NewConflict): Promise<{ record: ConflictRecord; created: boolean }>;
  conflict(id: string): Promise<ConflictRecord | null>;
  listConflicts(q: {
    status?: "unresolved" | "resolved" | "all";
    table?: string;
    limit?: number;
    after?: string;
  }): Promise<{ conflicts: ConflictRecord[]; next: string | null }>;
  /** The key hashes among `keyHashes` whose row is parked (an unresolved conflict). */
  openConflicts(table: string, keyHashes: readonly string[]): Promise<Set<string>>;
  /** Marks it resolved; throws SyncError not_found, or conflict when already resolved. */
  resolveConflict(
    id: string,
    resolution: { strategy: string; data: Row | null },
  ): Promise<ConflictRecord>;

  startRun(run: { direction: string; tables: RunTable[] }): Promise<RunRecord>;
  finishRun(
    id: string,
    end: Pick<RunRecord, "status" | "total_rows" | "conflicts_detected" | "tables" | "error">,
  ): Promise<RunRecord>;
  run(id: string): Promise<RunRecord | null>;
  /** Newest first; `before` is a run id. */
  listRuns(q: { limit?: number; before?: string }): Promise<RunRecord[]>;

  /** A capture's resume position (binlog checkpoint, slot memory); null when none is stored. */
  capturePosition(source: string): Promise<string | null>;
  saveCapturePosition(source: string, position: string): Promise<void>;
  clearCapturePosition(source: string): Promise<void>;

  addTombstones(table: string, keyHashes: readonly string[]): Promise<void>;
  clearTombstones(table: string, keyHashes: readonly string[]): Promise<void>;
  tombstoned(table: string, keyHashes: readonly string[]): Promise<Set<string>>;

  /** Reachable (for /ready). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
