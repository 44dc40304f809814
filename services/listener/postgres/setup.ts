/** What logical replication needs before the first byte streams: settings, publication, slot. */
import type pg from "pg";
import type { BucketColumns } from "../../../lib/access.ts";
import type { Logger } from "../../../lib/log.ts";
import { ensurePublication } from "../../../lib/postgres/publication.ts";
import { PositionLostError } from "../source.ts";

export interface WalSetup {
  publication: string;
  publicationTables: readonly string[] | undefined;
  slot: string;
  /** Each table's bucket column (the access policy's). */
  bucketColumns: BucketColumns;
}

/** What the listener remembers of a slot it used: for telling a lost slot from a new one. */
export interface SlotMemory {
  /** The last position confirmed through this slot, if it was ever used. */
  known(): Promise<string | null>;
}

export interface Prepared {
  db: string;
  /** Where the slot stands: everything before it has been confirmed (by us, earlier). */
  confirmedLsn: string | null;
}

/** Checks the server and creates the publication and slot when missing. */
export async function prepareReplication(
  db: Pick<pg.ClientBase, "query">,
  setup: WalSetup,
  log: Logger,
  memory?: SlotMemory,
  /** Creates a missing slot another way (exporting its snapshot); default: the SQL function. */
  createSlot?: () => Promise<void>,
): Promise<Prepared> {
  const settings = (await db.query<{ wal_level: string; db: string }>(
    "SELECT current_setting('wal_level') AS wal_level, current_database() AS db",
  )).rows[0]!;
  if (settings.wal_level !== "logical") {
    throw new Error(
      `PostgreSQL has wal_level=${settings.wal_level}; logical replication needs wal_level=logical ` +
        `(set it in postgresql.conf or with -c wal_level=logical, then restart the server)`,
    );
  }
  if (await ensurePublication(db, setup.publication, setup.publicationTables) === "created") {
    log.info("created publication", { publication: setup.publication });
  }

  const slot = (await db.query<{ plugin: string; database: string; wal_status: string | null }>(
    "SELECT plugin, database, wal_status FROM pg_replication_slots WHERE slot_name = $1",
    [setup.slot],
  )).rows[0];
  if (slot?.wal_status === "lost") {
    throw slotLost(setup.slot, "was invalidated (wal_status = lost)");
  }
  if (!slot) {
    // A slot that disappeared is never silently made anew: the changes since are lost to us.
    const known = await memory?.known();
    if (known) throw slotLost(setup.slot, `is gone (it had confirmed up to ${known})`);
    try {
      if (createSlot) await createSlot();
      else {await db.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [
          setup.slot,
        ]);}
      log.info("created replication slot", { slot: setup.slot });
    } catch (err) {
      if ((err as { code?: string }).code !== "42710") throw err; // created meanwhile
    }
  } else if (slot.plugin !== "pgoutput" || slot.database !== settings.db) {
    throw new Error(
      `replication slot "${setup.slot}" exists for plugin ${slot.plugin} in database ` +
        `${slot.database}; SyncHub needs a pgoutput slot in ${settings.db} (set REPLICATION_SLOT)`,
    );
  }

  // Without a full old image a delete cannot say which bucket it belonged to.
  const partial = await db.query<{ t: string; columns: string[] }>(
    `SELECT pt.schemaname || '.' || pt.tablename AS t, array_agg(a.attname::text) AS columns
       FROM pg_publication_tables pt
       JOIN pg_namespace n ON n.nspname = pt.schemaname
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE pt.pubname = $1 AND c.relreplident <> 'f'
      GROUP BY 1`,
    [setup.publication],
  );
  for (const { t, columns } of partial.rows) {
    if (setup.bucketColumns(t, (c) => columns.includes(c)) === null) continue;
    log.warn(
      "table has a bucket column but not REPLICA IDENTITY FULL: its deletes carry no bucket and " +
        "reach only tokens holding '*'; run ALTER TABLE ... REPLICA IDENTITY FULL",
      { table: t },
    );
  }
  const { rows: [position] } = await db.query<{ lsn: string | null }>(
    "SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1",
    [setup.slot],
  );
  return { db: settings.db, confirmedLsn: position?.lsn ?? null };
}

/** The primary-key columns of a table, in key order; empty when it has none. */
export async function primaryKeyOf(
  db: Pick<pg.ClientBase, "query">,
  relid: number,
): Promise<string[]> {
  const { rows } = await db.query<{ attname: string }>(
    `SELECT a.attname FROM pg_index i
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
      WHERE i.indrelid = $1 AND i.indisprimary
      ORDER BY array_position(i.indkey::int2[], a.attnum)`,
    [relid],
  );
  return rows.map((r) => r.attname);
}

/** A lost slot, with the way back. */
export function slotLost(slot: string, what: string): PositionLostError {
  return new PositionLostError(
    `replication slot "${slot}" ${what}: changes since were lost to SyncHub. To start afresh: ` +
      `SELECT pg_drop_replication_slot('${slot}') (if it is still there), DELETE FROM ` +
      `synchub.source_positions WHERE source = 'slot:${slot}', restart the listener (a new slot; ` +
      `with SNAPSHOT_MODE=initial the tables are published again), and have clients subscribe ` +
      `with snapshot: true. To keep it from happening, size max_slot_wal_keep_size (README: Operations).`,
  );
}
