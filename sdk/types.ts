/** The SDK's public types. */

export type JsonValue = null | boolean | number | string | JsonValue[] | {
  [key: string]: JsonValue;
};

/** A row as the REST API and the change envelope carry it: column → JSON value. */
export type Row = { [column: string]: JsonValue };

/** `online`: the socket is open; `connecting`: it is being opened; `offline`: waiting to retry. */
export type Status = "online" | "connecting" | "offline";

export interface WhereOperators {
  eq?: JsonValue;
  neq?: JsonValue;
  lt?: string | number;
  lte?: string | number;
  gt?: string | number;
  gte?: string | number;
  in?: JsonValue[];
}

/** SPEC §4 `where`: a column equals a value, or passes every operator of an operator object. */
export type Where = { [column: string]: JsonValue | WhereOperators };

/** One row change (SPEC §2). */
export interface Envelope {
  id: string;
  op: "c" | "u" | "d" | "r" | "t";
  before: Row | null;
  after: Row | null;
  key: Row;
  changed: string[] | null;
  bucket: string | null;
  source: {
    connector: string;
    name: string;
    db: string;
    schema: string | null;
    table: string;
    position: string;
    txId: string | null;
    ts_ms: number;
    snapshot?: string;
  };
  ts_ms: number;
}

export interface HistoryPage {
  changes: Envelope[];
  /** Pass as `since` for the next page (or to `subscribe` on the socket). */
  cursor: string;
  has_more: boolean;
}

export type WriteOp = "insert" | "update" | "delete";

/** The server refused a write because the row changed (409): the local row is the server's again. */
export interface ConflictEvent {
  table: string;
  op: WriteOp;
  key: Row;
  /** What the write would have written. */
  local: Row | null;
  /** The server's row, now the local one too; null when the row is gone. */
  server: Row | null;
  message: string;
}

/** Something failed. `rolledBack`: a write was refused (400/403/…) and undone locally. */
export interface ErrorEvent {
  code: string;
  message: string;
  status?: number;
  table?: string;
  op?: WriteOp;
  key?: Row;
  rolledBack: boolean;
}

export interface SyncHubEvents {
  status: Status;
  conflict: ConflictEvent;
  error: ErrorEvent;
  /** The number of writes not yet acknowledged, whenever it changes. */
  pending: number;
}

/** Why a subscriber is called. */
export interface SubscriptionInfo {
  /** The server's rows have been received at least once (now or in an earlier session). */
  synced: boolean;
  /** Writes to this table not yet acknowledged. */
  pending: number;
}

export type TableOptions = {
  where?: Where;
  /** Primary-key column(s); default `id`. New rows without it get a random UUID. */
  key?: string | string[];
};
