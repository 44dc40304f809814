/**
 * One side of a sync, MySQL/MariaDB or PostgreSQL, behind one interface: describe a table, read
 * it in key order, read rows by key, and apply writes in one transaction that starts with the
 * no-echo marker (README: "No echo"). The engine knows nothing of conflicts or the state store.
 */
import type { Row } from "../../../lib/envelope.ts";
import type { Side, TableConfig } from "../config.ts";
import type { TableShape } from "../table_shape.ts";

export type Engine = "mysql" | "postgres";

export type WriteOp =
  | { readonly kind: "upsert"; readonly row: Row }
  | { readonly kind: "delete"; readonly key: Row };

/** One table's writes within a transaction. */
export interface TableWrites {
  readonly shape: TableShape;
  readonly ops: readonly WriteOp[];
}

/** Names the marker row a transaction updates first: who writes, in which direction. */
export interface MarkerTag {
  readonly instance: string;
  readonly direction: string;
}

export const MARKER_TABLE = "synchub_sync_marker";

export interface SyncDatabase {
  readonly engine: Engine;
  readonly side: Side;
  /** The URL without its password, for messages. */
  readonly label: string;
  /** The table's columns and key; throws SchemaMismatch when the table is not there. */
  describe(table: Pick<TableConfig, "name" | "primary_key">): Promise<TableShape>;
  count(shape: TableShape): Promise<number>;
  /** Up to `limit` rows in primary-key order after `after` (exclusive; null: from the start). */
  readPage(
    shape: TableShape,
    after: Row | null,
    limit: number,
    columns?: "all" | "key",
  ): Promise<Row[]>;
  /** The rows whose keys are given, in no particular order (absent ones are left out). */
  readByKeys(shape: TableShape, keys: readonly Row[], columns?: "all" | "key"): Promise<Row[]>;
  /**
   * One transaction: the marker row first, then the writes (upserts by primary key, deletes).
   * Either all of it commits or none; throws the database's error.
   */
  apply(shape: TableShape, ops: readonly WriteOp[], marker: MarkerTag): Promise<void>;
  /** The same for several tables, in one transaction under one marker (realtime batches). */
  applyMany(parts: readonly TableWrites[], marker: MarkerTag): Promise<void>;
  /** Creates the marker table when missing (needs CREATE once; README says how to pre-create). */
  ensureMarkerTable(): Promise<void>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** A URL fit for logs: the password replaced. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable URL)";
  }
}

/** `schema.table` / `db.table` as configured, or the default namespace's table. */
export function splitName(name: string, defaultNamespace: string): [string, string] {
  const dot = name.indexOf(".");
  return dot < 0 ? [defaultNamespace, name] : [name.slice(0, dot), name.slice(dot + 1)];
}

/** Groups `items` so that no group has more than `max` items. */
export function* groups<T>(items: readonly T[], max: number): Generator<readonly T[]> {
  for (let i = 0; i < items.length; i += max) yield items.slice(i, i + max);
}

/**
 * Rows grouped by the columns they carry, each group with the shape's columns among them: a
 * statement writes only what the rows hold, so target-only columns keep their values and a
 * value the source did not send (an unchanged TOAST column) is not overwritten.
 */
export function byColumns<C extends { name: string }>(
  rows: readonly Row[],
  columns: readonly C[],
): { columns: C[]; rows: Row[] }[] {
  const out = new Map<string, { columns: C[]; rows: Row[] }>();
  for (const row of rows) {
    const cols = columns.filter((c) => Object.hasOwn(row, c.name));
    const sig = cols.map((c) => c.name).join("\u0000");
    let g = out.get(sig);
    if (!g) out.set(sig, g = { columns: cols, rows: [] });
    g.rows.push(row);
  }
  return [...out.values()];
}
