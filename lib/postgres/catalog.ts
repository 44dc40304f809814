/**
 * The PostgreSQL part of the catalog: every table of the sync publication, with its columns,
 * primary key and bucket column, read from the database itself.
 */
import type pg from "pg";
import type { BucketColumns } from "../access.ts";
import { Catalog, type ColumnInfo, type ColumnKind, type TableInfo } from "../catalog.ts";
import type { Logger } from "../log.ts";
import { learnArrayType, OID } from "./values.ts";

interface Row {
  relid: number;
  schema: string;
  table: string;
  replident: string;
  column: string;
  type_oid: number;
  type_name: string;
  typtype: string;
  typcategory: string;
  elem_oid: number;
  elem_typtype: string | null;
  elem_typcategory: string | null;
  not_null: boolean;
  has_default: boolean;
  read_only: boolean;
  pk_position: number | null;
  enum_values: string[] | null;
  elem_enum_values: string[] | null;
  max_length: number | null;
  typmod: number;
  published: boolean;
}

const CATALOG_SQL = `
SELECT c.oid::int AS relid, n.nspname AS schema, c.relname AS table, c.relreplident AS replident,
       a.attname AS column, a.atttypid::int AS type_oid,
       format_type(a.atttypid, a.atttypmod) AS type_name,
       t.typtype::text, t.typcategory::text, t.typelem::int AS elem_oid,
       et.typtype::text AS elem_typtype, et.typcategory::text AS elem_typcategory,
       a.attnotnull AS not_null,
       (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') AS has_default,
       (a.attidentity = 'a' OR a.attgenerated <> '') AS read_only,
       array_position(pk.indkey::int2[], a.attnum) AS pk_position,
       (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e
         WHERE e.enumtypid = a.atttypid) AS enum_values,
       (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e
         WHERE e.enumtypid = t.typelem) AS elem_enum_values,
       CASE WHEN (a.atttypid IN (1043, 1042) OR t.typelem IN (1043, 1042)) AND a.atttypmod > 4
            THEN a.atttypmod - 4 END AS max_length,
       a.atttypmod AS typmod,
       %PUBLISHED% AS published
  FROM pg_publication_tables pt
  JOIN pg_namespace n ON n.nspname = pt.schemaname
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
  LEFT JOIN pg_index pk ON pk.indrelid = c.oid AND pk.indisprimary
 WHERE pt.pubname = $1
 ORDER BY n.nspname, c.relname, a.attnum`;

export async function loadCatalog(
  db: Pick<pg.ClientBase, "query">,
  publication: string,
  bucketColumns: BucketColumns,
  log?: Logger,
  sourceName = "pg",
): Promise<Catalog> {
  const version = Number(
    (await db.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v,
  );
  // PostgreSQL 15 added column lists: a column left out of the publication is not served either.
  const published = version >= 150000 ? "a.attname = ANY(pt.attnames)" : "true";
  const { rows } = await db.query<Row>(CATALOG_SQL.replace("%PUBLISHED%", published), [
    publication,
  ]);
  const all = new Map<number, Row[]>();
  for (const r of rows) all.set(r.relid, [...(all.get(r.relid) ?? []), r]);
  const tables: TableInfo[] = [];
  for (const cols of all.values()) {
    const first = cols[0]!;
    const qualified = `${first.schema}.${first.table}`;
    const bucketColumn = bucketColumns(qualified, (c) => cols.some((r) => r.column === c));
    const published = cols.filter((r) => r.published);
    // A table whose bucket column is left out of the publication would stream rows without their
    // bucket, as if they were no one's: such a table is not served at all.
    if (bucketColumn && !published.some((r) => r.column === bucketColumn)) {
      log?.error("not serving a table whose bucket column is left out of the publication", {
        table: qualified,
        bucketColumn,
      });
      continue;
    }
    for (const r of published) {
      if (r.typcategory === "A" && r.elem_oid) learnArrayType(r.type_oid, r.elem_oid);
    }
    if (published.length) tables.push(tableInfo(published, bucketColumn, sourceName));
  }
  return new Catalog(tables);
}

/**
 * Teaches the value mapping the array types of user-defined elements (enum[], domain[]), which
 * PostgreSQL's built-in type table does not know.
 */
export async function learnUserArrayTypes(db: Pick<pg.ClientBase, "query">): Promise<void> {
  const { rows } = await db.query<{ oid: number; elem: number }>(
    "SELECT oid::int, typelem::int AS elem FROM pg_type WHERE typcategory = 'A' AND oid >= 16384",
  );
  for (const r of rows) learnArrayType(r.oid, r.elem);
}

function tableInfo(rows: Row[], bucketColumn: string | null, source: string): TableInfo {
  const first = rows[0]!;
  const columns = rows.map(columnInfo);
  const primaryKey = rows.filter((r) => r.pk_position !== null)
    .sort((a, b) => a.pk_position! - b.pk_position!)
    .map((r) => r.column);
  return {
    schema: first.schema,
    name: first.table,
    qualified: `${first.schema}.${first.table}`,
    columns,
    column: new Map(columns.map((c) => [c.name, c])),
    primaryKey,
    bucketColumn,
    source,
    connector: "postgresql",
    replicaIdentity: ({ d: "default", n: "nothing", f: "full", i: "index" } as const)[
      first.replident as "d"
    ] ?? "default",
  };
}

function columnInfo(r: Row): ColumnInfo {
  const base = {
    name: r.column,
    typeOid: r.type_oid,
    typeName: r.type_name,
    notNull: r.not_null,
    hasDefault: r.has_default,
    readOnly: r.read_only,
  };
  if (r.typcategory === "A") {
    const element = kindOf(r.elem_oid, r.elem_typtype ?? "", r.elem_typcategory ?? "");
    return {
      ...base,
      kind: "array",
      element,
      ...(r.elem_enum_values ? { enumValues: r.elem_enum_values } : {}),
      ...bounds(r.elem_oid, r),
    };
  }
  const kind = kindOf(r.type_oid, r.typtype, r.typcategory);
  return {
    ...base,
    kind,
    ...(r.enum_values ? { enumValues: r.enum_values } : {}),
    ...bounds(r.type_oid, r),
  };
}

/** What bounds a value of type `oid` (a column's, or its elements'): what the API checks. */
function bounds(oid: number, r: Row) {
  return {
    ...(oid === OID.int2 ? { intBits: 16 as const } : {}),
    ...(oid === OID.int4 ? { intBits: 32 as const } : {}),
    ...(oid === OID.float4 ? { floatBits: 32 as const } : {}),
    ...(r.max_length !== null ? { maxLength: r.max_length } : {}),
    ...(oid === OID.numeric && r.typmod >= 4 ? numericTypmod(r.typmod) : {}),
    ...(oid === OID.timestamp ? { withoutTimeZone: true } : {}),
  };
}

/** `numeric(p, s)`: the scale is an 11-bit signed field since PostgreSQL 15. */
function numericTypmod(typmod: number): { numericPrecision: number; numericScale: number } {
  const t = typmod - 4;
  const scale = ((t & 0x7ff) ^ 0x400) - 0x400;
  return { numericPrecision: (t >> 16) & 0xffff, numericScale: scale };
}

function kindOf(oid: number, typtype: string, category: string): ColumnKind {
  switch (oid) {
    case OID.bool:
      return "boolean";
    case OID.int2:
    case OID.int4:
      return "integer";
    case OID.int8:
      return "bigint";
    case OID.float4:
    case OID.float8:
      return "float";
    case OID.numeric:
      return "numeric";
    case OID.uuid:
      return "uuid";
    case OID.json:
    case OID.jsonb:
      return "json";
    case OID.bytea:
      return "bytea";
    case OID.timestamp:
    case OID.timestamptz:
      return "timestamp";
    case OID.date:
      return "date";
    case OID.time:
    case OID.timetz:
      return "time";
    case OID.interval:
      return "interval";
  }
  if (typtype === "e") return "enum";
  return category === "S" ? "string" : "other";
}
