/**
 * Where a hub keeps what must survive a reload or restart: local rows, the write queue, cursors.
 * Three stores of JSON values by string key; `write` applies a list of puts and deletes atomically
 * and durably before it resolves. Every adapter passes the suite in contract.ts.
 */

export type StoreName = "rows" | "queue" | "meta";

/** A put, or a delete when `value` is undefined. */
export interface StorageWrite {
  store: StoreName;
  key: string;
  value?: unknown;
}

export interface SyncStorage {
  /** For messages: `memory`, `indexeddb:<name>`, `file:<dir>`. */
  readonly name: string;
  /** Entries of a store whose key starts with `prefix`, in key order; values are copies. */
  entries(store: StoreName, prefix?: string): Promise<[string, unknown][]>;
  /** All of `writes`, in order, or none of them; durable once resolved. */
  write(writes: readonly StorageWrite[]): Promise<void>;
  close(): Promise<void>;
}

export const STORES: readonly StoreName[] = ["rows", "queue", "meta"];

/** Sorted entries of a map whose keys start with `prefix`. */
export function prefixed(map: Map<string, unknown>, prefix = ""): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [k, v] of map) if (k.startsWith(prefix)) out.push([k, structuredClone(v)]);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}
