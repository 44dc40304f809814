/**
 * The StateStore over any SqlDriver: the three sibling stores (sqlite.ts, postgres.ts, mysql.ts)
 * differ only in their driver. Rows are kept as JSON text; times as epoch milliseconds, shown as
 * ISO-8601.
 */
import type { Row } from "../../../lib/envelope.ts";
import { SyncError } from "../../../lib/errors.ts";
import { insertIgnore, placeholders, type SqlDriver, type SqlRow, upsert } from "./driver.ts";
import { newId } from "./ids.ts";
import { migrate } from "./migrations.ts";
import type {
  ConflictRecord,
  Direction,
  NewConflict,
  RunRecord,
  StateStore,
  TableState,
  TableStatus,
} from "./store.ts";

const iso = (
  ms: unknown,
) => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());
const json = (v: Row | null) => (v === null ? null : JSON.stringify(v));
const parse = (v: unknown) => (v === null || v === undefined ? null : JSON.parse(String(v)) as Row);

export async function openSqlStore(db: SqlDriver): Promise<StateStore> {
  await migrate(db);
  return new SqlStateStore(db);
}

class SqlStateStore implements StateStore {
  constructor(private readonly db: SqlDriver) {}

  async isEmpty(): Promise<boolean> {
    const [a] = await this.db.query("SELECT COUNT(*) AS n FROM sync_state");
    const [b] = await this.db.query("SELECT COUNT(*) AS n FROM sync_history");
    return Number(a?.n) === 0 && Number(b?.n) === 0;
  }

  async tableStates(): Promise<TableState[]> {
    const rows = await this.db.query("SELECT * FROM sync_state ORDER BY table_name, direction");
    return rows.map(toTableState);
  }

  async tableState(table: string, direction: Direction): Promise<TableState | null> {
    const [row] = await this.db.query(
      "SELECT * FROM sync_state WHERE table_name = ? AND direction = ?",
      [table, direction],
    );
    return row ? toTableState(row) : null;
  }

  async setTableStatus(
    table: string,
    direction: Direction,
    status: TableStatus,
    error: string | null = null,
  ): Promise<void> {
    await this.db.execute(
      upsert(this.db.dialect, "sync_state", ["table_name", "direction", "status", "error"], [
        "table_name",
        "direction",
      ], ["status", "error"]),
      [table, direction, status, error],
    );
  }

  async recordProgress(
    table: string,
    direction: Direction,
    progress: { rows: number; position?: string },
  ): Promise<void> {
    // One statement: concurrent writers never race between an UPDATE and an INSERT.
    const mysql = this.db.dialect === "mysql";
    const old = (c: string) => (mysql ? c : `sync_state.${c}`);
    const add = (c: string) => (mysql ? `VALUES(${c})` : `excluded.${c}`);
    await this.db.execute(
      `INSERT INTO sync_state (table_name, direction, rows_synced, last_sync_time, position, status)
        VALUES (?, ?, ?, ?, ?, 'idle')
        ${mysql ? "ON DUPLICATE KEY UPDATE" : "ON CONFLICT (table_name, direction) DO UPDATE SET"}
        rows_synced = ${old("rows_synced")} + ${add("rows_synced")},
        last_sync_time = ${add("last_sync_time")},
        position = COALESCE(${add("position")}, ${old("position")})`,
      [table, direction, progress.rows, Date.now(), progress.position ?? null],
    );
  }

  recordConflict(c: NewConflict): Promise<{ record: ConflictRecord; created: boolean }> {
    return this.db.transaction(async (tx) => {
      const open = await tx.query(
        "SELECT * FROM conflicts WHERE table_name = ? AND open_key = ?",
        [c.table, c.key_hash],
      );
      if (open[0]) {
        // Still parked: keep one record, with each side's newest version.
        await tx.execute(
          "UPDATE conflicts SET local_data = ?, cloud_data = ?, error = ? WHERE id = ?",
          [json(c.local_data), json(c.cloud_data), c.error ?? open[0].error ?? null, open[0].id],
        );
        const [row] = await tx.query("SELECT * FROM conflicts WHERE id = ?", [open[0].id]);
        return { record: toConflict(row!), created: false };
      }
      const id = newId();
      const now = Date.now();
      const settled = c.resolved_by;
      const versions = settled ? `${c.key_hash}:${settled.versions}` : null;
      const changed = await tx.execute(
        insertIgnore(tx.dialect, "conflicts", [
          "id",
          "table_name",
          "primary_key",
          "key_hash",
          "local_data",
          "cloud_data",
          "conflict_type",
          "detected_at",
          "resolved",
          "resolution_strategy",
          "resolved_at",
          "resolved_data",
          "error",
          "open_key",
          "versions_key",
        ]),
        [
          id,
          c.table,
          JSON.stringify(c.primary_key),
          c.key_hash,
          json(c.local_data),
          json(c.cloud_data),
          c.conflict_type,
          now,
          settled ? 1 : 0,
          settled?.strategy ?? null,
          settled ? now : null,
          settled ? json(settled.data) : null,
          c.error ?? null,
          settled ? null : c.key_hash,
          versions,
        ],
      );
      // Nothing inserted: the other direction recorded the same row a moment before.
      const [row] = changed > 0
        ? await tx.query("SELECT * FROM conflicts WHERE id = ?", [id])
        : versions
        ? await tx.query("SELECT * FROM conflicts WHERE table_name = ? AND versions_key = ?", [
          c.table,
          versions,
        ])
        : await tx.query("SELECT * FROM conflicts WHERE table_name = ? AND open_key = ?", [
          c.table,
          c.key_hash,
        ]);
      return { record: toConflict(row!), created: changed > 0 };
    });
  }

  async conflict(id: string): Promise<ConflictRecord | null> {
    const [row] = await this.db.query("SELECT * FROM conflicts WHERE id = ?", [id]);
    return row ? toConflict(row) : null;
  }

  async listConflicts(q: {
    status?: "unresolved" | "resolved" | "all";
    table?: string;
    limit?: number;
    after?: string;
  }): Promise<{ conflicts: ConflictRecord[]; next: string | null }> {
    const where: string[] = [];
    const params: unknown[] = [];
    const status = q.status ?? "unresolved";
    if (status !== "all") where.push(`resolved = ${status === "resolved" ? 1 : 0}`);
    if (q.table !== undefined) where.push("table_name = ?"), params.push(q.table);
    if (q.after !== undefined) where.push("id > ?"), params.push(q.after);
    const limit = Math.max(1, Math.min(q.limit ?? 100, 1000));
    const rows = await this.db.query(
      `SELECT * FROM conflicts ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
        ORDER BY id LIMIT ${limit + 1}`,
      params,
    );
    const conflicts = rows.slice(0, limit).map(toConflict);
    return { conflicts, next: rows.length > limit ? conflicts.at(-1)!.id : null };
  }

  async openConflicts(table: string, keyHashes: readonly string[]): Promise<Set<string>> {
    return await this.keysIn(
      "SELECT open_key AS k FROM conflicts WHERE table_name = ? AND open_key IN",
      table,
      keyHashes,
    );
  }

  resolveConflict(
    id: string,
    resolution: { strategy: string; data: Row | null },
  ): Promise<ConflictRecord> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query("SELECT * FROM conflicts WHERE id = ?", [id]);
      if (!row) throw new SyncError("not_found", `no conflict ${id}`);
      if (Number(row.resolved) === 1) {
        throw new SyncError("conflict", `conflict ${id} is already resolved`);
      }
      await tx.execute(
        "UPDATE conflicts SET resolved = 1, resolution_strategy = ?, resolved_at = ?, resolved_data = ?, open_key = NULL WHERE id = ?",
        [resolution.strategy, Date.now(), json(resolution.data), id],
      );
      const [after] = await tx.query("SELECT * FROM conflicts WHERE id = ?", [id]);
      return toConflict(after!);
    });
  }

  async startRun(run: { direction: string; tables: RunRecord["tables"] }): Promise<RunRecord> {
    const id = newId();
    await this.db.execute(
      "INSERT INTO sync_history (id, started_at, direction, tables, status) VALUES (?, ?, ?, ?, 'running')",
      [id, Date.now(), run.direction, JSON.stringify(run.tables)],
    );
    return (await this.run(id))!;
  }

  async finishRun(
    id: string,
    end: Pick<RunRecord, "status" | "total_rows" | "conflicts_detected" | "tables" | "error">,
  ): Promise<RunRecord> {
    await this.db.execute(
      "UPDATE sync_history SET completed_at = ?, status = ?, total_rows = ?, conflicts_detected = ?, tables = ?, error = ? WHERE id = ?",
      [
        Date.now(),
        end.status,
        end.total_rows,
        end.conflicts_detected,
        JSON.stringify(end.tables),
        end.error,
        id,
      ],
    );
    const run = await this.run(id);
    if (!run) throw new SyncError("not_found", `no run ${id}`);
    return run;
  }

  async run(id: string): Promise<RunRecord | null> {
    const [row] = await this.db.query("SELECT * FROM sync_history WHERE id = ?", [id]);
    return row ? toRun(row) : null;
  }

  async listRuns(q: { limit?: number; before?: string }): Promise<RunRecord[]> {
    const limit = Math.max(1, Math.min(q.limit ?? 20, 1000));
    const rows = await this.db.query(
      `SELECT * FROM sync_history ${
        q.before ? "WHERE id < ?" : ""
      } ORDER BY id DESC LIMIT ${limit}`,
      q.before ? [q.before] : [],
    );
    return rows.map(toRun);
  }

  async capturePosition(source: string): Promise<string | null> {
    const [row] = await this.db.query(
      "SELECT position FROM sync_capture_positions WHERE source = ?",
      [source],
    );
    return row ? String(row.position) : null;
  }

  async saveCapturePosition(source: string, position: string): Promise<void> {
    await this.db.execute(
      upsert(this.db.dialect, "sync_capture_positions", ["source", "position", "updated_at"], [
        "source",
      ], ["position", "updated_at"]),
      [source, position, Date.now()],
    );
  }

  async clearCapturePosition(source: string): Promise<void> {
    await this.db.execute("DELETE FROM sync_capture_positions WHERE source = ?", [source]);
  }

  async addTombstones(table: string, keyHashes: readonly string[]): Promise<void> {
    if (keyHashes.length === 0) return;
    const now = Date.now();
    const sql = upsert(
      this.db.dialect,
      "sync_tombstones",
      ["table_name", "key_hash", "deleted_at"],
      [
        "table_name",
        "key_hash",
      ],
      ["deleted_at"],
    );
    await this.db.transaction(async (tx) => {
      for (const k of keyHashes) await tx.execute(sql, [table, k, now]);
    });
  }

  async clearTombstones(table: string, keyHashes: readonly string[]): Promise<void> {
    for (let i = 0; i < keyHashes.length; i += 500) {
      const part = keyHashes.slice(i, i + 500);
      await this.db.execute(
        `DELETE FROM sync_tombstones WHERE table_name = ? AND key_hash IN (${
          placeholders(part.length)
        })`,
        [table, ...part],
      );
    }
  }

  tombstoned(table: string, keyHashes: readonly string[]): Promise<Set<string>> {
    return this.keysIn(
      "SELECT key_hash AS k FROM sync_tombstones WHERE table_name = ? AND key_hash IN",
      table,
      keyHashes,
    );
  }

  async ping(): Promise<boolean> {
    return await this.db.query("SELECT 1 AS ok").then(() => true, () => false);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  private async keysIn(
    prefix: string,
    table: string,
    keys: readonly string[],
  ): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < keys.length; i += 500) {
      const part = keys.slice(i, i + 500);
      const rows = await this.db.query(`${prefix} (${placeholders(part.length)})`, [
        table,
        ...part,
      ]);
      for (const r of rows) found.add(String(r.k));
    }
    return found;
  }
}

function toTableState(r: SqlRow): TableState {
  return {
    table: String(r.table_name),
    direction: String(r.direction) as Direction,
    position: r.position === null || r.position === undefined ? null : String(r.position),
    rows_synced: Number(r.rows_synced),
    status: String(r.status) as TableStatus,
    error: r.error === null || r.error === undefined ? null : String(r.error),
    last_sync_time: iso(r.last_sync_time),
  };
}

function toConflict(r: SqlRow): ConflictRecord {
  return {
    id: String(r.id),
    table: String(r.table_name),
    primary_key: parse(r.primary_key) ?? {},
    local_data: parse(r.local_data),
    cloud_data: parse(r.cloud_data),
    conflict_type: String(r.conflict_type) as ConflictRecord["conflict_type"],
    detected_at: iso(r.detected_at)!,
    resolved: Number(r.resolved) === 1,
    resolution_strategy: r.resolution_strategy === null ? null : String(r.resolution_strategy),
    resolved_at: iso(r.resolved_at),
    resolved_data: parse(r.resolved_data),
    error: r.error === null || r.error === undefined ? null : String(r.error),
  };
}

function toRun(r: SqlRow): RunRecord {
  return {
    id: String(r.id),
    status: String(r.status) as RunRecord["status"],
    direction: String(r.direction),
    started_at: iso(r.started_at)!,
    completed_at: iso(r.completed_at),
    total_rows: Number(r.total_rows),
    conflicts_detected: Number(r.conflicts_detected),
    tables: JSON.parse(String(r.tables)),
    error: r.error === null || r.error === undefined ? null : String(r.error),
  };
}
