/**
 * The catalog: the tables SyncHub serves, whatever their source — columns, key, bucket column and
 * the source that captures each. The listener owns source metadata: it loads the catalog from its
 * databases and publishes one record per table on the bus; everyone else (the gateway) builds its
 * catalog from those records and never opens a source database itself.
 */
import type { Connector } from "./envelope.ts";

export type ColumnKind =
  | "boolean"
  | "integer"
  | "bigint"
  | "float"
  | "numeric"
  | "string"
  | "uuid"
  | "json"
  | "bytea"
  | "timestamp"
  | "date"
  | "time"
  | "interval"
  | "enum"
  | "array"
  | "other";

export interface ColumnInfo {
  readonly name: string;
  /** PostgreSQL type oid; 0 for other sources. */
  readonly typeOid: number;
  /** As the source prints it: `character varying(40)`, `integer[]`, `datetime`, … */
  readonly typeName: string;
  readonly kind: ColumnKind;
  /** For arrays: the element kind. */
  readonly element?: ColumnKind;
  readonly enumValues?: readonly string[];
  /** Bits of an integer column: 16 or 32 (bigint is its own kind). */
  readonly intBits?: 16 | 32;
  /** 32 for `real` (a double does not always fit). */
  readonly floatBits?: 32;
  /** `numeric(p, s)`: at most p digits, s of them after the point (s < 0: rounded to 10^-s). */
  readonly numericPrecision?: number;
  readonly numericScale?: number;
  readonly maxLength?: number;
  readonly notNull: boolean;
  readonly hasDefault: boolean;
  /** Generated or identity ALWAYS: the database writes it, clients may not. */
  readonly readOnly: boolean;
  /** A timestamp column without a time zone (`timestamp`, MySQL `DATETIME`): values are UTC. */
  readonly withoutTimeZone?: boolean;
}

export interface TableInfo {
  /** The schema (PostgreSQL) or database (MySQL, MongoDB) holding the table. */
  readonly schema: string;
  readonly name: string;
  /** `schema.table` or `db.table`: how clients name it. */
  readonly qualified: string;
  readonly columns: readonly ColumnInfo[];
  readonly column: ReadonlyMap<string, ColumnInfo>;
  readonly primaryKey: readonly string[];
  readonly bucketColumn: string | null;
  readonly replicaIdentity: "default" | "nothing" | "full" | "index";
  /** The source capturing the table; it names the table's topic. */
  readonly source: string;
  readonly connector: Connector;
  /** No fixed columns (a MongoDB collection): filters may name any field. */
  readonly schemaless?: boolean;
  /** The listener can read the table's current rows for subscribers asking for a snapshot. */
  readonly snapshots?: boolean;
}

/** A table as it travels on the bus: TableInfo without its derived lookup map. */
export type TableRecord = Omit<TableInfo, "column">;

export function tableInfo(record: TableRecord): TableInfo {
  return { ...record, column: new Map(record.columns.map((c) => [c.name, c])) };
}

export function tableRecord(table: TableInfo): TableRecord {
  const { column: _, ...record } = table;
  return record;
}

/** The bus key of a table's catalog record: one record per table and source. */
export function catalogKey(table: Pick<TableInfo, "source" | "qualified">): string {
  return JSON.stringify([table.source, table.qualified]);
}

/** Parses a catalog record's value; undefined for a tombstone or a value that is not a table. */
export function parseTableRecord(value: string | null): TableInfo | undefined {
  if (value === null) return undefined;
  try {
    const r = JSON.parse(value) as TableRecord;
    const valid = typeof r === "object" && r !== null && typeof r.qualified === "string" &&
      typeof r.source === "string" && Array.isArray(r.columns) && Array.isArray(r.primaryKey);
    return valid ? tableInfo(r) : undefined;
  } catch {
    return undefined;
  }
}

export class Catalog {
  private readonly byQualified: ReadonlyMap<string, TableInfo>;
  private readonly byName: ReadonlyMap<string, TableInfo[]>;

  constructor(readonly tables: readonly TableInfo[]) {
    this.byQualified = new Map(tables.map((t) => [t.qualified, t]));
    const byName = new Map<string, TableInfo[]>();
    for (const t of tables) byName.set(t.name, [...(byName.get(t.name) ?? []), t]);
    this.byName = byName;
  }

  /** A table by `schema.table`, or by bare name when exactly one schema has it. */
  get(name: string): TableInfo | undefined {
    const exact = this.byQualified.get(name);
    if (exact || name.includes(".")) return exact;
    const candidates = this.byName.get(name) ?? [];
    return candidates.find((t) => t.schema === "public") ??
      (candidates.length === 1 ? candidates[0] : undefined);
  }
}

/** Where a service gets the catalog from: a database it owns, or the records on the bus. */
export interface CatalogSource {
  get(): Promise<Catalog>;
  /** The table, or undefined when even an up-to-date catalog does not have it. */
  table(name: string): Promise<TableInfo | undefined>;
}

/**
 * A catalog loaded from a database, reloaded when asked for a table it does not know (at most
 * once a second) and every `ttlMs`, so tables added to the publication are served without a
 * restart.
 */
export class CatalogCache implements CatalogSource {
  private current: Catalog | undefined;
  private loadedAt = 0;
  private loading: Promise<Catalog> | undefined;

  constructor(
    private readonly load: () => Promise<Catalog>,
    private readonly onLoad: (catalog: Catalog) => void = () => {},
    private readonly ttlMs = 30_000,
  ) {}

  async get(): Promise<Catalog> {
    if (!this.current || Date.now() - this.loadedAt > this.ttlMs) return await this.refresh();
    return this.current;
  }

  async table(name: string): Promise<TableInfo | undefined> {
    const known = (await this.get()).get(name);
    if (known || Date.now() - this.loadedAt < 1000) return known;
    return (await this.refresh()).get(name);
  }

  /**
   * The database said a table is not as the catalog has it: reload on the next use. At most once
   * a second, so requests that keep failing cannot turn into a catalog query each.
   */
  invalidate(): void {
    if (Date.now() - this.loadedAt >= 1000) this.loadedAt = 0;
  }

  refresh(): Promise<Catalog> {
    this.loading ??= this.load().then((c) => {
      this.current = c;
      this.loadedAt = Date.now();
      this.onLoad(c);
      return c;
    }).finally(() => this.loading = undefined);
    return this.loading;
  }
}
