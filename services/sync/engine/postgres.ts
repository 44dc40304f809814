/**
 * A PostgreSQL side. Reads decode values exactly as the WAL source does (lib/postgres/pool.ts);
 * writes are multi-row INSERT … ON CONFLICT (primary key) DO UPDATE in one transaction per batch,
 * so only the primary key can turn an insert into an update.
 */
import type { Row } from "../../../lib/envelope.ts";
import type { Logger } from "../../../lib/log.ts";
import {
  createPool,
  type Pool,
  type PoolClient,
  quoteIdent as q,
} from "../../../lib/postgres/pool.ts";
import type { Side, TableConfig } from "../config.ts";
import {
  type ColumnKind,
  type ColumnShape,
  SchemaMismatch,
  type TableShape,
} from "../table_shape.ts";
import {
  byColumns,
  groups,
  MARKER_TABLE,
  type MarkerTag,
  redactUrl,
  splitName,
  type SyncDatabase,
  type TableWrites,
  type WriteOp,
} from "./database.ts";
import { MarkerSlots } from "./marker_slots.ts";
import { toPgValue } from "./values.ts";

export async function openPostgres(
  side: Side,
  url: string,
  opts: { connections: number; log: Logger },
): Promise<SyncDatabase> {
  const pool = createPool(url, {
    log: opts.log,
    max: opts.connections,
    applicationName: `synchub-sync-${side}`,
  });
  try {
    await pool.query("SELECT 1");
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  return new PostgresDatabase(side, redactUrl(url), pool, opts.connections);
}

class PostgresDatabase implements SyncDatabase {
  readonly engine = "postgres" as const;
  private readonly slots: MarkerSlots;

  constructor(
    readonly side: Side,
    readonly label: string,
    private readonly pool: Pool,
    connections: number,
  ) {
    this.slots = new MarkerSlots(connections);
  }

  async describe(table: Pick<TableConfig, "name" | "primary_key">): Promise<TableShape> {
    const [schema, name] = splitName(table.name, "public");
    const cols = await this.pool.query<
      {
        name: string;
        type: string;
        typname: string;
        typtype: string;
        cat: string;
        nullable: boolean;
      }
    >(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, t.typname,
              t.typtype, t.typcategory AS cat, NOT a.attnotnull AS nullable
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_type t ON t.oid = a.atttypid
        WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
          AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
        ORDER BY a.attnum`,
      [schema, name],
    );
    if (cols.rowCount === 0) {
      throw new SchemaMismatch(`table ${table.name} does not exist on ${this.side}`);
    }
    const pk = await this.pool.query<{ name: string }>(
      `SELECT a.attname AS name
         FROM pg_index i
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
        WHERE i.indrelid = (quote_ident($1) || '.' || quote_ident($2))::regclass AND i.indisprimary
        ORDER BY array_position(i.indkey::int2[], a.attnum)`,
      [schema, name],
    );
    const columns: ColumnShape[] = cols.rows.map((c) => ({
      name: c.name,
      kind: pgKind(c.typname, c.typtype, c.cat),
      dbType: c.type,
      nullable: c.nullable,
    }));
    const primaryKey = table.primary_key ?? pk.rows.map((r) => r.name);
    const missing = primaryKey.filter((k) => !columns.some((c) => c.name === k));
    if (primaryKey.length === 0 || missing.length > 0) {
      throw new SchemaMismatch(
        primaryKey.length === 0
          ? `${table.name} has no primary key on ${this.side}: name one (primary_key)`
          : `primary key column ${missing.join(", ")} of ${table.name} missing on ${this.side}`,
      );
    }
    return { name: table.name, namespace: schema, table: name, columns, primaryKey };
  }

  async count(shape: TableShape): Promise<number> {
    const r = await this.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${this.qualified(shape)}`,
    );
    return Number(r.rows[0]?.n ?? 0);
  }

  async readPage(
    shape: TableShape,
    after: Row | null,
    limit: number,
    columns: "all" | "key" = "all",
  ): Promise<Row[]> {
    const pk = shape.primaryKey;
    const params = after ? pk.map((c) => this.param(shape, c, after[c])) : [];
    const where = after
      ? `WHERE (${pk.map(q).join(", ")}) > (${pk.map((_, i) => `$${i + 1}`).join(", ")})`
      : "";
    const list = columns === "key"
      ? pk.map(q).join(", ")
      : shape.columns.map((c) => q(c.name)).join(", ");
    const r = await this.pool.query<Row>(
      `SELECT ${list} FROM ${this.qualified(shape)} ${where} ORDER BY ${pk.map(q).join(", ")}
        LIMIT ${Math.max(1, Math.floor(limit))}`,
      params,
    );
    return r.rows;
  }

  async readByKeys(
    shape: TableShape,
    keys: readonly Row[],
    columns: "all" | "key" = "all",
  ): Promise<Row[]> {
    const list = columns === "key"
      ? shape.primaryKey.map(q).join(", ")
      : shape.columns.map((c) => q(c.name)).join(", ");
    const out: Row[] = [];
    for (const part of groups(keys, 1000)) {
      const { sql, params } = this.keyIn(shape, part);
      const r = await this.pool.query<Row>(
        `SELECT ${list} FROM ${this.qualified(shape)} WHERE ${sql}`,
        params,
      );
      out.push(...r.rows);
    }
    return out;
  }

  apply(shape: TableShape, ops: readonly WriteOp[], marker: MarkerTag): Promise<void> {
    return this.applyMany([{ shape, ops }], marker);
  }

  async applyMany(parts: readonly TableWrites[], marker: MarkerTag): Promise<void> {
    const slot = await this.slots.take();
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      // First statement of every transaction: the listener recognises sync writes by it.
      await client.query(
        `INSERT INTO ${q(MARKER_TABLE)} AS m (instance, direction, slot, txn, updated_at)
           VALUES ($1, $2, $3, 1, now())
           ON CONFLICT (instance, direction, slot) DO UPDATE SET txn = m.txn + 1, updated_at = now()`,
        [marker.instance, marker.direction, slot],
      );
      for (const { shape, ops } of parts) await this.write(client, shape, ops);
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release();
      this.slots.give(slot);
    }
  }

  private async write(client: PoolClient, shape: TableShape, ops: readonly WriteOp[]) {
    const deletes = ops.flatMap((o) => (o.kind === "delete" ? [o.key] : []));
    for (const part of groups(deletes, 1000)) {
      const { sql, params } = this.keyIn(shape, part);
      await client.query(`DELETE FROM ${this.qualified(shape)} WHERE ${sql}`, params);
    }
    const upserts = ops.flatMap((o) => (o.kind === "upsert" ? [o.row] : []));
    const pk = shape.primaryKey;
    for (const group of byColumns(upserts, shape.columns)) {
      const cols = group.columns;
      const update = cols.filter((c) => !pk.includes(c.name))
        .map((c) => `${q(c.name)} = EXCLUDED.${q(c.name)}`);
      const tail = update.length
        ? `ON CONFLICT (${pk.map(q).join(", ")}) DO UPDATE SET ${update.join(", ")}`
        : `ON CONFLICT (${pk.map(q).join(", ")}) DO NOTHING`;
      // PostgreSQL takes at most 65,535 parameters per statement.
      for (const part of groups(group.rows, Math.max(1, Math.floor(60_000 / cols.length)))) {
        const params: unknown[] = [];
        const tuples = part.map((r) => {
          const start = params.length;
          for (const c of cols) params.push(toPgValue(r[c.name], c));
          return `(${cols.map((_, i) => `$${start + i + 1}`).join(", ")})`;
        });
        await client.query(
          `INSERT INTO ${this.qualified(shape)} (${cols.map((c) => q(c.name)).join(", ")})
            OVERRIDING SYSTEM VALUE VALUES ${tuples.join(", ")} ${tail}`,
          params,
        );
      }
    }
  }

  async ensureMarkerTable(): Promise<void> {
    const found = await this.pool.query("SELECT to_regclass($1) AS t", [MARKER_TABLE]);
    if (found.rows[0]?.t) return;
    await this.pool.query(PG_MARKER_DDL).catch((err) => {
      throw new Error(
        `${this.side}: cannot create ${MARKER_TABLE} (${err.message}); create it once as in services/sync/README.md`,
      );
    });
  }

  async ping(): Promise<boolean> {
    return await this.pool.query("SELECT 1").then(() => true, () => false);
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  private keyIn(shape: TableShape, keys: readonly Row[]): { sql: string; params: unknown[] } {
    const pk = shape.primaryKey;
    const params: unknown[] = [];
    const tuples = keys.map((k) => {
      const start = params.length;
      for (const c of pk) params.push(this.param(shape, c, k[c]));
      return `(${pk.map((_, i) => `$${start + i + 1}`).join(", ")})`;
    });
    return { sql: `(${pk.map(q).join(", ")}) IN (${tuples.join(", ")})`, params };
  }

  private param(shape: TableShape, column: string, v: Row[string] | undefined): unknown {
    return toPgValue(v, shape.columns.find((c) => c.name === column)!);
  }

  private qualified(shape: TableShape): string {
    return `${q(shape.namespace)}.${q(shape.table)}`;
  }
}

export const PG_MARKER_DDL = `CREATE TABLE IF NOT EXISTS ${q(MARKER_TABLE)} (
  instance text NOT NULL,
  direction text NOT NULL,
  slot integer NOT NULL,
  txn bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (instance, direction, slot))`;

function pgKind(typname: string, typtype: string, category: string): ColumnKind {
  if (category === "A") return "other";
  if (typtype === "e") return "text";
  switch (typname) {
    case "int2":
    case "int4":
    case "int8":
    case "oid":
      return "integer";
    case "bool":
      return "boolean";
    case "numeric":
    case "money":
      return "decimal";
    case "float4":
    case "float8":
      return "float";
    case "uuid":
      return "uuid";
    case "json":
    case "jsonb":
      return "json";
    case "bytea":
      return "bytes";
    case "date":
      return "date";
    case "time":
    case "timetz":
      return "time";
    case "timestamp":
      return "timestamp";
    case "timestamptz":
      return "timestamptz";
  }
  return category === "S" ? "text" : "other";
}
