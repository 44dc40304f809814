/** The state store's tables (SPEC §8.2), as numbered migrations applied in order at start. */
import { type Dialect, type SqlDriver, types } from "./driver.ts";

const MIGRATIONS: { version: number; sql: (d: Dialect) => string[] }[] = [
  {
    version: 1,
    sql: (d) => {
      const t = types(d);
      return [
        `CREATE TABLE IF NOT EXISTS sync_state (
          table_name ${t.key} NOT NULL,
          direction ${t.key} NOT NULL,
          position ${t.text},
          rows_synced ${t.int} NOT NULL DEFAULT 0,
          status ${t.key} NOT NULL DEFAULT 'idle',
          error ${t.text},
          last_sync_time ${t.int},
          PRIMARY KEY (table_name, direction))`,
        // open_key is the row's key hash while unresolved, NULL afterwards: one open record per row.
        // versions_key identifies an auto-resolved pair of versions: recorded once, whichever
        // direction saw it first.
        `CREATE TABLE IF NOT EXISTS conflicts (
          id ${t.key} NOT NULL PRIMARY KEY,
          table_name ${t.key} NOT NULL,
          primary_key ${t.text} NOT NULL,
          key_hash ${t.key} NOT NULL,
          local_data ${t.text},
          cloud_data ${t.text},
          conflict_type ${t.key} NOT NULL,
          detected_at ${t.int} NOT NULL,
          resolved ${t.int} NOT NULL DEFAULT 0,
          resolution_strategy ${t.key},
          resolved_at ${t.int},
          resolved_data ${t.text},
          error ${t.text},
          open_key ${t.key},
          versions_key ${t.key},
          UNIQUE (table_name, open_key),
          UNIQUE (table_name, versions_key)${
          d === "mysql" ? ", INDEX conflicts_by_state (resolved, id)" : ""
        })`,
        ...(d === "mysql"
          ? []
          : ["CREATE INDEX IF NOT EXISTS conflicts_by_state ON conflicts (resolved, id)"]),
        `CREATE TABLE IF NOT EXISTS sync_history (
          id ${t.key} NOT NULL PRIMARY KEY,
          started_at ${t.int} NOT NULL,
          completed_at ${t.int},
          direction ${t.key} NOT NULL,
          tables ${t.text} NOT NULL,
          total_rows ${t.int} NOT NULL DEFAULT 0,
          conflicts_detected ${t.int} NOT NULL DEFAULT 0,
          status ${t.key} NOT NULL,
          error ${t.text})`,
        `CREATE TABLE IF NOT EXISTS sync_tombstones (
          table_name ${t.key} NOT NULL,
          key_hash ${t.key} NOT NULL,
          deleted_at ${t.int} NOT NULL,
          PRIMARY KEY (table_name, key_hash))`,
      ];
    },
  },
  {
    // Where each capture (a side's binlog reader, or its slot's memory) resumes: SPEC §8.2
    // "Nothing lost" — written only once the target has committed what came before it.
    version: 2,
    sql: (d) => {
      const t = types(d);
      return [
        `CREATE TABLE IF NOT EXISTS sync_capture_positions (
          source ${t.key} NOT NULL PRIMARY KEY,
          position ${t.text} NOT NULL,
          updated_at ${t.int} NOT NULL)`,
      ];
    },
  },
];

export async function migrate(db: SqlDriver): Promise<void> {
  const t = types(db.dialect);
  await db.execute(
    `CREATE TABLE IF NOT EXISTS sync_migrations (version ${t.int} NOT NULL PRIMARY KEY, applied_at ${t.int} NOT NULL)`,
  );
  const done = new Set(
    (await db.query("SELECT version FROM sync_migrations")).map((r) => Number(r.version)),
  );
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
    // MySQL commits DDL at once, so a half-applied migration runs again: every statement says
    // IF NOT EXISTS.
    await db.transaction(async (tx) => {
      for (const statement of m.sql(db.dialect)) await tx.execute(statement);
      await tx.execute("INSERT INTO sync_migrations (version, applied_at) VALUES (?, ?)", [
        m.version,
        Date.now(),
      ]);
    });
  }
}
