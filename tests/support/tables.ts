import type { ColumnInfo, ColumnKind, TableInfo } from "../../lib/catalog.ts";

/** A TableInfo as the catalog would build it, for tests that need no database. */
export function tableInfo(
  qualified: string,
  columns: Record<string, ColumnKind>,
  opts: { primaryKey?: string[]; bucketColumn?: string | null } = {},
): TableInfo {
  const [schema, name] = qualified.split(".") as [string, string];
  const cols: ColumnInfo[] = Object.entries(columns).map(([n, kind]) => ({
    name: n,
    typeOid: 0,
    typeName: kind,
    kind,
    notNull: false,
    hasDefault: false,
    readOnly: false,
  }));
  return {
    schema,
    name,
    qualified,
    columns: cols,
    column: new Map(cols.map((c) => [c.name, c])),
    primaryKey: opts.primaryKey ?? ["id"],
    bucketColumn: opts.bucketColumn === undefined
      ? ("bucket" in columns ? "bucket" : null)
      : opts.bucketColumn,
    replicaIdentity: "full",
    source: "pg",
    connector: "postgresql",
  };
}
