/**
 * What the engine knows of a synced table on one side: its columns, each with a logical kind that
 * is the same on MySQL and PostgreSQL for the same data (README: type mapping), and its key.
 */
export type ColumnKind =
  | "integer"
  | "boolean"
  | "decimal"
  | "float"
  | "text"
  | "uuid"
  | "json"
  | "bytes"
  | "date"
  | "time"
  | "timestamp"
  | "timestamptz"
  | "other";

export interface ColumnShape {
  readonly name: string;
  readonly kind: ColumnKind;
  /** The database's own type name, for messages and the type mapping. */
  readonly dbType: string;
  readonly nullable: boolean;
}

export interface TableShape {
  /** As named in the configuration. */
  readonly name: string;
  /** `schema`/`db` and table as the database knows them. */
  readonly namespace: string;
  readonly table: string;
  readonly columns: readonly ColumnShape[];
  readonly primaryKey: readonly string[];
}

/**
 * Why the target cannot take the source's rows (SPEC §8.2 schema mismatch), or null when it can:
 * every source column must exist on the target, and the keys must agree.
 */
export function shapeMismatch(
  source: TableShape,
  target: TableShape,
  targetSide: string,
): string | null {
  const have = new Set(target.columns.map((c) => c.name));
  const missing = source.columns.filter((c) => !have.has(c.name)).map((c) => c.name);
  if (missing.length > 0) {
    return `column${missing.length > 1 ? "s" : ""} ${
      missing.join(", ")
    } of ${source.name} missing on ${targetSide}`;
  }
  if (source.primaryKey.join(",") !== target.primaryKey.join(",")) {
    return `${source.name}: primary key (${
      source.primaryKey.join(", ")
    }) differs on ${targetSide} (${target.primaryKey.join(", ")})`;
  }
  return null;
}

export class SchemaMismatch extends Error {
  override name = "SchemaMismatch";
}
