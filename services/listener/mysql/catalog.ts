/** A MySQL source's captured tables as catalog entries (`db.table`), for the bus's catalog. */
import mysql from "mysql2/promise";
import type { BucketColumns } from "../../../lib/access.ts";
import type { ColumnInfo, ColumnKind, TableInfo } from "../../../lib/catalog.ts";
import { capturedTables, tableMeta } from "../../../lib/mysql/schema.ts";

export async function loadMySqlTables(
  source: { name: string; url: string; tables: readonly string[] | undefined },
  bucketColumns: BucketColumns,
): Promise<TableInfo[]> {
  const u = new URL(source.url);
  const database = u.pathname.replace(/^\//, "");
  const conn = await mysql.createConnection({
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    connectTimeout: 5_000,
  });
  try {
    const out: TableInfo[] = [];
    for (const t of await capturedTables(conn, source.tables, database || undefined)) {
      const meta = await tableMeta(conn, t.db, t.table);
      const columns: ColumnInfo[] = meta.columns.map((c) => ({
        name: c.name,
        typeOid: 0,
        typeName: c.dataType,
        kind: meta.jsonColumns.has(c.name) ? "json" : kindOf(c.dataType),
        ...(c.dataType === "datetime" ? { withoutTimeZone: true } : {}),
        notNull: !c.nullable,
        hasDefault: false,
        readOnly: true,
      }));
      out.push({
        schema: t.db,
        name: t.table,
        qualified: `${t.db}.${t.table}`,
        columns,
        column: new Map(columns.map((c) => [c.name, c])),
        primaryKey: meta.primaryKey,
        bucketColumn: bucketColumns(`${t.db}.${t.table}`, (c) => columns.some((x) => x.name === c)),
        replicaIdentity: "full",
        source: source.name,
        connector: "mysql",
      });
    }
    return out;
  } finally {
    await conn.end().catch(() => {});
  }
}

function kindOf(dataType: string): ColumnKind {
  if (/^(tinyint|smallint|mediumint|int|integer|year)$/.test(dataType)) return "integer";
  if (dataType === "bigint") return "bigint";
  if (/^(float|double|real)$/.test(dataType)) return "float";
  if (/^(decimal|numeric)$/.test(dataType)) return "numeric";
  if (/^(datetime|timestamp)$/.test(dataType)) return "timestamp";
  if (dataType === "date") return "date";
  if (dataType === "time") return "time";
  if (dataType === "json") return "json";
  if (dataType === "enum") return "enum";
  if (/blob|binary/.test(dataType)) return "bytea";
  if (dataType === "bit") return "integer";
  return "string";
}
