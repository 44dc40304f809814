/**
 * The rows a hub holds: per table view (table + `where`), the server's rows as last received,
 * and what subscribers see — those rows with the queued writes applied on top, in order, and
 * filtered by `where`. Every change goes through here: changes from the socket, snapshots,
 * acknowledgements, rollbacks and new local writes.
 */
import type { Outbox } from "./outbox.ts";
import type { Persister } from "./persist.ts";
import { matchesWhere, rowKey, versionOf } from "./rows.ts";
import type { StorageWrite } from "./storage/storage.ts";
import type { Envelope, Row, SubscriptionInfo, Where } from "./types.ts";

export type Subscriber = (rows: Row[], info: SubscriptionInfo) => void;

interface ViewMeta {
  cursor?: string;
  synced: boolean;
}

export class View {
  readonly server = new Map<string, Row>();
  readonly rows = new Map<string, Row>();
  readonly subscribers = new Set<Subscriber>();
  cursor: string | undefined;
  /** The server's rows were received in full at least once. */
  synced = false;
  loaded = false;
  /** While a snapshot is being received: its rows so far. */
  snapshot: Map<string, Row> | undefined;
  /**
   * Rows our own writes settled while a snapshot was being received (null: deleted). The snapshot
   * may predate them; their changes follow it on the socket, but until then they must not vanish.
   */
  readonly settledDuringSnapshot = new Map<string, Row | null>();

  constructor(
    readonly scope: string,
    readonly table: string,
    readonly where: Where | undefined,
    readonly keyColumns: readonly string[],
  ) {}

  keyOf(row: Row): string {
    return rowKey(this.keyColumns, row);
  }

  rowWrite(key: string, row: Row | undefined): StorageWrite {
    return { store: "rows", key: `${this.scope}\u0001${key}`, value: row };
  }

  metaWrite(): StorageWrite {
    const meta: ViewMeta = { synced: this.synced, ...(this.cursor ? { cursor: this.cursor } : {}) };
    return { store: "meta", key: `view:${this.scope}`, value: meta };
  }
}

export class Local {
  private readonly views = new Map<string, View>();
  private readonly dirty = new Set<View>();
  private notifying = false;

  constructor(
    private readonly outbox: Outbox,
    private readonly persister: Persister,
    private readonly storage: {
      entries(store: "rows" | "meta", prefix?: string): Promise<[string, unknown][]>;
    },
  ) {}

  view(scope: string): View | undefined {
    return this.views.get(scope);
  }

  allViews(): View[] {
    return [...this.views.values()];
  }

  viewsOf(table: string): View[] {
    return this.allViews().filter((v) => v.table === table);
  }

  /** Registers a view and loads what storage holds for it. */
  async open(view: View): Promise<View> {
    this.views.set(view.scope, view);
    const [rows, meta] = await Promise.all([
      this.storage.entries("rows", `${view.scope}\u0001`),
      this.storage.entries("meta", `view:${view.scope}`),
    ]);
    for (const [k, row] of rows) view.server.set(k.slice(view.scope.length + 1), row as Row);
    const m = meta.find(([k]) => k === `view:${view.scope}`)?.[1] as ViewMeta | undefined;
    view.cursor = m?.cursor;
    view.synced = m?.synced ?? false;
    view.loaded = true;
    this.refreshAll(view);
    return view;
  }

  /** The row as subscribers of `table` see it now (the first view that has it). */
  current(table: string, key: string): Row | undefined {
    for (const v of this.viewsOf(table)) {
      const row = v.rows.get(key) ?? v.server.get(key);
      if (row) return row;
    }
    return undefined;
  }

  /** Recomputes one row of every view of `table`: its server row, then the queued writes. */
  refresh(table: string, key: string): void {
    for (const v of this.viewsOf(table)) this.refreshRow(v, key);
  }

  private refreshRow(v: View, key: string): void {
    let row: Row | undefined = v.server.get(key) ?? this.serverRowElsewhere(v, key);
    for (const w of this.outbox.forRow(v.table, key)) {
      if (w.op === "insert") row = { ...w.values };
      else if (w.op === "update") row = row ? { ...row, ...w.values } : undefined;
      else row = undefined;
    }
    const visible = row !== undefined && matchesWhere(v.where, row);
    const before = v.rows.get(key);
    if (visible) v.rows.set(key, Object.freeze(row!));
    else v.rows.delete(key);
    if (before !== undefined || visible) this.markDirty(v);
  }

  /** A row another view of the table holds: a local write may move it into this view. */
  private serverRowElsewhere(v: View, key: string): Row | undefined {
    if (this.outbox.forRow(v.table, key).length === 0) return undefined;
    for (const other of this.viewsOf(v.table)) {
      if (other !== v && other.server.has(key)) return other.server.get(key);
    }
    return undefined;
  }

  refreshAll(v: View): void {
    const keys = new Set([...v.server.keys(), ...v.rows.keys()]);
    for (const w of this.outbox.all()) if (w.table === v.table) keys.add(w.rowKey);
    for (const k of keys) this.refreshRow(v, k);
    this.markDirty(v);
  }

  /** One change from the socket, for one view; its cursor is persisted with the row. */
  applyChange(v: View, e: Envelope, cursor: string | undefined): void {
    if (v.snapshot && e.op === "r") {
      if (e.after) v.snapshot.set(v.keyOf(e.after), e.after);
      return;
    }
    const writes: StorageWrite[] = [];
    if (e.op === "t") {
      for (const k of [...v.server.keys()]) {
        v.server.delete(k);
        writes.push(v.rowWrite(k, undefined));
        this.refreshRow(v, k);
      }
    } else {
      const key = v.keyOf(e.after ?? e.before ?? e.key);
      if (e.op === "d" || !e.after) v.server.delete(key);
      else {
        // Columns the source did not send (unchanged TOAST values) keep their last value.
        const merged = e.op === "u" ? { ...v.server.get(key), ...e.after } : e.after;
        v.server.set(key, merged);
      }
      writes.push(v.rowWrite(key, v.server.get(key)));
      this.refreshRow(v, key);
    }
    if (cursor !== undefined) {
      v.cursor = cursor;
      writes.push(v.metaWrite());
    }
    this.persister.stage(writes);
  }

  /**
   * A snapshot is complete: its rows replace the server's rows of the view (rows gone since are
   * dropped), queued writes stay on top.
   */
  finishSnapshot(v: View, cursor: string): void {
    const rows = v.snapshot ?? new Map<string, Row>();
    v.snapshot = undefined;
    const writes: StorageWrite[] = [];
    for (const k of v.server.keys()) if (!rows.has(k)) writes.push(v.rowWrite(k, undefined));
    v.server.clear();
    for (const [k, row] of rows) {
      v.server.set(k, row);
      writes.push(v.rowWrite(k, row));
    }
    // What we wrote meanwhile stays, unless the snapshot already holds it (or something newer).
    for (const [k, row] of v.settledDuringSnapshot) {
      const snap = rows.get(k);
      if (row === null) {
        if (!snap) continue; // gone either way
        v.server.delete(k);
        writes.push(v.rowWrite(k, undefined));
      } else if (!snap || (versionOf(snap) ?? -Infinity) < (versionOf(row) ?? Infinity)) {
        if (!matchesWhere(v.where, row)) continue;
        v.server.set(k, row);
        writes.push(v.rowWrite(k, row));
      }
    }
    v.settledDuringSnapshot.clear();
    v.cursor = cursor;
    v.synced = true;
    writes.push(v.metaWrite());
    this.persister.stage(writes);
    this.refreshAll(v);
  }

  /**
   * The server's row after one of our writes (acknowledged or refused) — for every view of the
   * table, where it matches. An older version than the one held (a change from the socket got
   * here first) is ignored.
   */
  settle(table: string, key: string, row: Row | null): StorageWrite[] {
    const writes: StorageWrite[] = [];
    for (const v of this.viewsOf(table)) {
      if (v.snapshot) v.settledDuringSnapshot.set(key, row);
      const held = v.server.get(key);
      if (row === null) {
        if (held) {
          v.server.delete(key);
          writes.push(v.rowWrite(key, undefined));
        }
      } else if ((versionOf(held) ?? -Infinity) <= (versionOf(row) ?? Infinity)) {
        if (matchesWhere(v.where, row)) {
          v.server.set(key, row);
          writes.push(v.rowWrite(key, row));
        } else if (held) {
          v.server.delete(key);
          writes.push(v.rowWrite(key, undefined));
        }
      }
    }
    this.refresh(table, key);
    return writes;
  }

  private markDirty(v: View): void {
    if (v.subscribers.size === 0) return;
    this.dirty.add(v);
    if (this.notifying) return;
    this.notifying = true;
    queueMicrotask(() => {
      this.notifying = false;
      const views = [...this.dirty];
      this.dirty.clear();
      for (const view of views) this.notify(view);
    });
  }

  notify(v: View, only?: Subscriber): void {
    const rows = [...v.rows.values()];
    const info: SubscriptionInfo = { synced: v.synced, pending: this.outbox.forTable(v.table) };
    for (const fn of only ? [only] : v.subscribers) {
      try {
        fn(rows, info);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  /** After acks or rollbacks: the pending counts subscribers see changed. */
  touchTable(table: string): void {
    for (const v of this.viewsOf(table)) this.markDirty(v);
  }
}
