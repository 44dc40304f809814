/**
 * Rows of publication tables in PostgreSQL, with bucket guards and optimistic concurrency in the
 * statements themselves. SQL is composed with drizzle-orm's `sql` builder (identifiers quoted,
 * values bound as parameters) and run on our pool, whose rows decode as envelopes do.
 */
import { type SQL, sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import {
  bucketOf,
  canWrite,
  inScope,
  type Principal,
  readScope,
  type TableRule,
} from "../../../lib/access.ts";
import { bucketValue } from "../../../lib/buckets.ts";
import type { JsonValue, Row } from "../../../lib/envelope.ts";
import { SyncError } from "../../../lib/errors.ts";
import type { ColumnInfo, TableInfo } from "../../../lib/catalog.ts";
import { fromPgError } from "../../../lib/postgres/errors.ts";
import { currentTraceparent, inSpan, TRACE_MESSAGE_PREFIX } from "../../../lib/tracing.ts";
import {
  type Pool,
  type PoolClient,
  quoteIdent,
  quoteQualified,
  withTransaction,
} from "../../../lib/postgres/pool.ts";

const dialect = new PgDialect();

export type Db = Pick<Pool | PoolClient, "query">;

/** Who asks, and the table's rule (lib/access.ts decides; the statements carry it out). */
export interface Access {
  readonly principal: Principal;
  readonly rule: TableRule;
}

export interface WriteOptions {
  access: Access;
  /** The version the client last saw (`If-Match`); a mismatch is a conflict. */
  expectedVersion?: number | undefined;
}

/** One write of a batch: what `RowStore.write` carries out. */
export type WriteOp =
  | { op: "insert"; values: Row; expectedVersion?: undefined }
  | {
    op: "update";
    key: Row;
    values: Row;
    mode: "replace" | "patch";
    expectedVersion: number | undefined;
  }
  | { op: "delete"; key: Row; expectedVersion: number | undefined };

export interface WriteResult {
  op: WriteOp["op"];
  row: Row;
}

export interface ListOptions {
  access: Access;
  filters: Row;
  limit: number;
  after?: readonly JsonValue[] | undefined;
}

/** The columns SPEC §5.2 manages for the client when a table has them. */
export const VERSION_COLUMN = "version";
export const UPDATED_AT_COLUMN = "updated_at";

export class RowStore {
  constructor(private readonly pool: Pool) {}

  async list(
    table: TableInfo,
    opts: ListOptions,
  ): Promise<{ rows: Row[]; next: JsonValue[] | null }> {
    const conditions = [
      ...Object.entries(opts.filters).map(([c, v]) => equals(table, c, v)),
      readableGuard(opts.access),
    ];
    const pk = table.primaryKey;
    if (opts.after && pk.length > 0) {
      conditions.push(
        sql`(${sql.join(pk.map(col), sql`, `)}) > (${
          sql.join(pk.map((c, i) => param(table, c, opts.after![i]!)), sql`, `)
        })`,
      );
    }
    const order = pk.length > 0 ? sql` ORDER BY ${sql.join(pk.map(col), sql`, `)}` : sql``;
    const rows = await this.run(
      this.pool,
      sql`SELECT ${columns(table)} FROM ${name(table)} WHERE ${and(conditions)}${order} LIMIT ${
        sql.param(opts.limit + 1)
      }`,
    );
    const more = rows.length > opts.limit;
    const page = more ? rows.slice(0, opts.limit) : rows;
    const last = page.at(-1);
    return { rows: page, next: more && last && pk.length > 0 ? pk.map((c) => last[c]!) : null };
  }

  async get(table: TableInfo, key: Row, access: Access): Promise<Row> {
    const [row] = await this.run(
      this.pool,
      sql`SELECT ${columns(table)} FROM ${name(table)} WHERE ${keyMatch(table, key)}`,
    );
    if (!row || !readable(access, row)) throw notFound(table);
    return row;
  }

  private async insert(
    table: TableInfo,
    values: Row,
    opts: WriteOptions,
    db: Db,
  ): Promise<Row> {
    const row = { ...values };
    const { principal, rule } = opts.access;
    const bucket = rule.bucketColumn ? bucketValue(row[rule.bucketColumn]) : null;
    if (!canWrite(principal, rule, bucket)) throw forbidden(table, bucket);
    const names = Object.keys(row);
    const statement = names.length === 0
      ? sql`INSERT INTO ${name(table)} DEFAULT VALUES RETURNING ${columns(table)}`
      : sql`INSERT INTO ${name(table)} (${sql.join(names.map(col), sql`, `)}) VALUES (${
        sql.join(names.map((c) => param(table, c, row[c]!)), sql`, `)
      }) RETURNING ${columns(table)}`;
    const [created] = await this.run(db, statement);
    return created!;
  }

  /**
   * Replace (`replace`: unspecified columns back to their defaults) or patch a row. The bucket
   * guard, the version check and last-write-wins on `updated_at` are all in the WHERE clause, so
   * a concurrent writer cannot slip between check and write.
   */
  private async update(
    table: TableInfo,
    key: Row,
    values: Row,
    mode: "replace" | "patch",
    opts: WriteOptions,
    db: Db,
  ): Promise<Row> {
    const managed = new Set([...table.primaryKey, VERSION_COLUMN, UPDATED_AT_COLUMN]);
    for (const c of table.primaryKey) {
      if (Object.hasOwn(values, c) && JSON.stringify(values[c]) !== JSON.stringify(key[c])) {
        throw new SyncError("validation_failed", `column "${c}" is the key and cannot change`);
      }
    }
    const { principal, rule } = opts.access;
    if (rule.bucketColumn && Object.hasOwn(values, rule.bucketColumn)) {
      const bucket = bucketValue(values[rule.bucketColumn]);
      if (!canWrite(principal, rule, bucket)) throw forbidden(table, bucket);
    }
    const assignments: SQL[] = [];
    for (const c of table.columns) {
      if (managed.has(c.name) || c.readOnly) continue;
      if (Object.hasOwn(values, c.name)) {
        assignments.push(sql`${col(c.name)} = ${param(table, c.name, values[c.name]!)}`);
      } else if (mode === "replace" && c.name !== rule.bucketColumn) {
        assignments.push(sql`${col(c.name)} = DEFAULT`); // the bucket stays: it is tenancy, not data
      }
    }
    const versioned = isVersioned(table);
    const clientTime = lwwTime(table, values);
    if (versioned) assignments.push(sql`${col(VERSION_COLUMN)} = ${col(VERSION_COLUMN)} + 1`);
    if (table.column.get(UPDATED_AT_COLUMN)?.kind === "timestamp") {
      assignments.push(
        clientTime === undefined
          ? sql`${col(UPDATED_AT_COLUMN)} = now()`
          : sql`${col(UPDATED_AT_COLUMN)} = ${param(table, UPDATED_AT_COLUMN, clientTime)}`,
      );
    }
    if (assignments.length === 0) return await this.get(table, key, opts.access);
    const guards = [keyMatch(table, key), writableGuard(opts.access)];
    if (versioned && opts.expectedVersion !== undefined) {
      guards.push(sql`${col(VERSION_COLUMN)} = ${versionParam(opts.expectedVersion)}`);
    }
    if (clientTime !== undefined) {
      guards.push(sql`${col(UPDATED_AT_COLUMN)} <= ${param(table, UPDATED_AT_COLUMN, clientTime)}`);
    }
    const [updated] = await this.run(
      db,
      sql`UPDATE ${name(table)} SET ${sql.join(assignments, sql`, `)} WHERE ${
        and(guards)
      } RETURNING ${columns(table)}`,
    );
    if (updated) return updated;
    throw await this.explainRefusal(table, key, opts, clientTime, db);
  }

  private async delete(table: TableInfo, key: Row, opts: WriteOptions, db: Db): Promise<Row> {
    const guards = [keyMatch(table, key), writableGuard(opts.access)];
    if (isVersioned(table) && opts.expectedVersion !== undefined) {
      guards.push(sql`${col(VERSION_COLUMN)} = ${versionParam(opts.expectedVersion)}`);
    }
    const [deleted] = await this.run(
      db,
      sql`DELETE FROM ${name(table)} WHERE ${and(guards)} RETURNING ${columns(table)}`,
    );
    if (deleted) return deleted;
    throw await this.explainRefusal(table, key, opts, undefined, db);
  }

  /**
   * The one way rows are written: a batch of operations, all or nothing. A batch of one is a
   * single guarded statement; a longer one runs in a transaction that first locks its rows in key
   * order, so batches touching the same rows queue instead of deadlocking. A failing operation's
   * error names its index (`details.index`) in batches of more than one.
   */
  async write(
    table: TableInfo,
    ops: readonly WriteOp[],
    access: Access,
  ): Promise<WriteResult[]> {
    return await inSpan("crud.write", {
      attributes: { "db.sql.table": table.qualified, "synchub.operations": ops.length },
    }, async () => {
      // Traced: the trace goes into the WAL with the rows (SPEC §12), so one transaction always.
      const traceparent = currentTraceparent();
      if (ops.length === 1 && !traceparent) {
        return [await this.apply(table, ops[0]!, access, this.pool)];
      }
      return await withTransaction(this.pool, async (db) => {
        if (traceparent) {
          await db.query("SELECT pg_logical_emit_message(true, $1, $2)", [
            TRACE_MESSAGE_PREFIX,
            traceparent,
          ]);
        }
        if (ops.length === 1) return [await this.apply(table, ops[0]!, access, db)];
        await this.lock(table, ops.flatMap((op) => op.op === "insert" ? [] : [op.key]), db);
        const out: WriteResult[] = [];
        for (const [index, op] of ops.entries()) {
          try {
            out.push(await this.apply(table, op, access, db));
          } catch (err) {
            throw inBatch(err, index);
          }
        }
        return out;
      });
    });
  }

  private async apply(table: TableInfo, op: WriteOp, access: Access, db: Db) {
    const opts = { access, expectedVersion: op.expectedVersion };
    const row = op.op === "insert"
      ? await this.insert(table, op.values, opts, db)
      : op.op === "update"
      ? await this.update(table, op.key, op.values, op.mode, opts, db)
      : await this.delete(table, op.key, opts, db);
    return { op: op.op, row };
  }

  /** Why a guarded write touched nothing: no such row, a foreign bucket, or a conflict. */
  private async explainRefusal(
    table: TableInfo,
    key: Row,
    opts: WriteOptions,
    clientTime: JsonValue | undefined,
    db: Db,
  ): Promise<SyncError> {
    const [current] = await this.run(
      db,
      sql`SELECT ${columns(table)} FROM ${name(table)} WHERE ${keyMatch(table, key)}`,
    );
    if (!current || !readable(opts.access, current)) return notFound(table);
    const bucket = bucketOf(opts.access.rule, current).bucket;
    if (!canWrite(opts.access.principal, opts.access.rule, bucket)) return forbidden(table, bucket);
    if (
      isVersioned(table) && opts.expectedVersion !== undefined &&
      current[VERSION_COLUMN] !== opts.expectedVersion
    ) {
      return new SyncError(
        "conflict",
        `version ${opts.expectedVersion} is not current (the row is at version ${
          current[VERSION_COLUMN]
        })`,
        { current },
      );
    }
    if (clientTime !== undefined) {
      return new SyncError(
        "conflict",
        "a newer write already won (last write wins on updated_at)",
        {
          current,
        },
      );
    }
    return new SyncError("conflict", "the row changed during the write; read it and retry", {
      current,
    });
  }

  /**
   * Locks the rows of `keys` in key order. A batch does this before its writes, so two batches
   * touching the same rows in different orders queue one behind the other instead of deadlocking.
   */
  private async lock(table: TableInfo, keys: readonly Row[], db: Db): Promise<void> {
    if (keys.length === 0 || table.primaryKey.length === 0) return;
    const order = sql.join(table.primaryKey.map(col), sql`, `);
    await this.run(
      db,
      sql`SELECT 1 FROM ${name(table)} WHERE ${
        sql.join(keys.map((k) => sql`(${keyMatch(table, k)})`), sql` OR `)
      } ORDER BY ${order} FOR UPDATE`,
    );
  }

  private async run(db: Db, statement: SQL): Promise<Row[]> {
    const q = dialect.sqlToQuery(statement);
    try {
      return (await db.query(q.sql, q.params)).rows as Row[];
    } catch (err) {
      throw fromPgError(err);
    }
  }
}

/** As bigint: a version past the column's range matches no row, it is not an error. */
function versionParam(version: number): SQL {
  return sql`${sql.param(version)}::bigint`;
}

export function isVersioned(table: TableInfo): boolean {
  const kind = table.column.get(VERSION_COLUMN)?.kind;
  return kind === "integer" || kind === "bigint";
}

/** The client's `updated_at` when the table is last-write-wins on it. */
function lwwTime(table: TableInfo, values: Row): JsonValue | undefined {
  if (table.column.get(UPDATED_AT_COLUMN)?.kind !== "timestamp") return undefined;
  const v = values[UPDATED_AT_COLUMN];
  return v === null ? undefined : v;
}

/** The row is in what the caller may read. */
function readable(access: Access, row: Row): boolean {
  const scope = readScope(access.principal, access.rule);
  return scope !== null && inScope(scope, bucketOf(access.rule, row));
}

function notFound(table: TableInfo): SyncError {
  return new SyncError("not_found", `no such row in ${table.qualified}`);
}

function forbidden(table: TableInfo, bucket: string | null): SyncError {
  return new SyncError(
    "forbidden",
    bucket === null
      ? `the token may not write rows of ${table.qualified} without a bucket`
      : `the token does not grant bucket "${bucket}"`,
  );
}

/**
 * Identifiers as SQL text, quoted once per table and column: composing them from drizzle's
 * identifier chunks on every request was a tenth of the CRUD service's CPU.
 */
const quotedTables = new WeakMap<TableInfo, { name: SQL; columns: SQL }>();
const quotedColumns = new Map<string, SQL>();

function quoted(table: TableInfo) {
  let q = quotedTables.get(table);
  if (!q) {
    q = {
      name: sql.raw(quoteQualified(table.schema, table.name)),
      // Only the published columns: one left out of the publication is not served either.
      columns: sql.raw(table.columns.map((c) => quoteIdent(c.name)).join(", ")),
    };
    quotedTables.set(table, q);
  }
  return q;
}

function name(table: TableInfo): SQL {
  return quoted(table).name;
}

function columns(table: TableInfo): SQL {
  return quoted(table).columns;
}

function col(column: string): SQL {
  let q = quotedColumns.get(column);
  if (!q) {
    q = sql.raw(quoteIdent(column));
    // Column names come from catalogs (client-named ones are checked first): bounded, but cap it.
    if (quotedColumns.size < 10_000) quotedColumns.set(column, q);
  }
  return q;
}

function and(conditions: SQL[]): SQL {
  return conditions.length ? sql.join(conditions, sql` AND `) : sql`true`;
}

/** A bound value, cast to the column's type; JSON goes as text so arrays stay JSON arrays. */
function param(table: TableInfo, column: string, value: JsonValue): SQL {
  const info: ColumnInfo | undefined = table.column.get(column);
  if (!info) {
    throw new SyncError("validation_failed", `unknown column "${column}" of ${table.qualified}`);
  }
  if (value === null) return sql`NULL::${sql.raw(info.typeName)}`;
  // A time with an offset names an instant; a column without a time zone holds it in UTC.
  if (info.kind === "timestamp" && info.withoutTimeZone) {
    return sql`(${sql.param(value)}::timestamptz AT TIME ZONE 'UTC')`;
  }
  const bound = info.kind === "json"
    ? JSON.stringify(value)
    : info.floatBits === 32 && typeof value === "number"
    ? Math.fround(value) // what `real` keeps; a value too small for it is 0, not an error
    : info.kind === "bytea"
    ? `\\x${
      [...atob(value as string)].map((c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("")
    }`
    : info.kind === "array" && info.floatBits === 32
    ? (value as JsonValue[]).map((v) => (typeof v === "number" ? Math.fround(v) : v))
    : info.kind === "array" && info.element === "json"
    ? (value as JsonValue[]).map((v) => (v === null ? null : JSON.stringify(v)))
    : value;
  return sql`${sql.param(bound)}::${sql.raw(info.typeName)}`;
}

/** `column = value`; JSON compared as jsonb, since plain `json` has no equality operator. */
function equals(table: TableInfo, column: string, value: JsonValue): SQL {
  if (table.column.get(column)?.kind === "json") {
    return sql`${col(column)}::jsonb = ${sql.param(JSON.stringify(value))}::jsonb`;
  }
  return sql`${col(column)} = ${param(table, column, value)}`;
}

function keyMatch(table: TableInfo, key: Row): SQL {
  if (table.primaryKey.length === 0) {
    throw new SyncError(
      "bad_request",
      `${table.qualified} has no primary key; rows cannot be addressed`,
    );
  }
  return and(table.primaryKey.map((c) => sql`${col(c)} = ${param(table, c, key[c]!)}`));
}

/** The rows the caller may read, as SQL (the access policy's scope, pushed down). */
function readableGuard(access: Access): SQL {
  const scope = readScope(access.principal, access.rule);
  if (!scope) return sql`false`;
  if (scope.all) return sql`true`;
  const column = access.rule.bucketColumn;
  if (!column) return sql`false`;
  const b = col(column);
  const mine = sql`${b}::text = ANY(${sql.param([...scope.buckets])}::text[])`;
  return scope.nullBucket ? sql`(${b} IS NULL OR ${mine})` : mine;
}

/** The rows the caller may change or delete, as SQL. */
function writableGuard(access: Access): SQL {
  const { principal: p, rule } = access;
  if (p.admin || rule.write === "authenticated") return sql`true`;
  if (rule.write !== "bucket" || !rule.bucketColumn) return sql`false`;
  if (p.all) return sql`true`;
  return sql`${col(rule.bucketColumn)}::text = ANY(${sql.param([...p.buckets])}::text[])`;
}

/** An error of a batch's operation, naming its index. */
export function inBatch(err: unknown, index: number): unknown {
  if (!(err instanceof SyncError)) return err;
  const details = typeof err.details === "object" && err.details !== null ? err.details : {};
  return new SyncError(err.code, `operation ${index}: ${err.message}`, { index, ...details });
}
