/**
 * The change envelope (SPEC §2, §11): the one shape every source produces and every consumer
 * reads. Defined once as a zod schema; the TypeScript type is derived from it, and
 * `makeEnvelope` is the one constructor every adapter and snapshot path builds envelopes with.
 */
import { z } from "zod";
import { bucketValue } from "./buckets.ts";
import { changedColumns } from "./diff.ts";
import { VERSION } from "./version.ts";

const row = z.record(z.string(), z.json());
/** Nanoseconds pass 2^53: whole numbers, but not "safe" integers (JSON carries them exactly). */
const nanos = z.number().refine(Number.isInteger, "expected an integer");

export const OPS = ["c", "u", "d", "r", "t"] as const;
export type Op = (typeof OPS)[number];

/** Debezium's connector names (SPEC §11). */
export const CONNECTORS = ["postgresql", "mysql", "mongodb"] as const;
export type Connector = (typeof CONNECTORS)[number];

/** Debezium's snapshot marker: a row of an initial snapshot, its last row, or a live change. */
export const SNAPSHOT_MARKS = ["true", "last", "false"] as const;
export type SnapshotMark = (typeof SNAPSHOT_MARKS)[number];

/** Which sync service wrote a change (SPEC §8.2 "no echo"): it must not sync it back. */
export const syncOriginSchema = z.object({ instance: z.string(), direction: z.string() });
export type SyncOrigin = z.infer<typeof syncOriginSchema>;

export const sourceInfoSchema = z.object({
  version: z.string(),
  connector: z.enum(CONNECTORS),
  name: z.string().min(1),
  db: z.string(),
  schema: z.string().nullable(),
  table: z.string().min(1),
  position: z.string().min(1),
  txId: z.string().nullable(),
  ts_ms: z.number().int(),
  ts_us: z.number().int(),
  ts_ns: nanos,
  snapshot: z.enum(SNAPSHOT_MARKS),
  /** Present on changes a SyncHub sync service wrote: whose writes they were. */
  origin: syncOriginSchema.optional(),
});

export const transactionSchema = z.object({
  id: z.string(),
  total_order: z.number().int().positive(),
  data_collection_order: z.number().int().positive(),
});

export const envelopeSchema = z.object({
  id: z.string().min(1),
  op: z.enum(OPS),
  before: row.nullable(),
  after: row.nullable(),
  key: row,
  changed: z.array(z.string()).nullable(),
  bucket: z.string().nullable(),
  source: sourceInfoSchema,
  transaction: transactionSchema.nullable(),
  ts_ms: z.number().int(),
  ts_us: z.number().int(),
  ts_ns: nanos,
  /** Present when values were left out to fit the bus (lib/oversize.ts): which, and how big. */
  oversize: z.object({ columns: z.array(z.string()), bytes: z.number().int() }).optional(),
}).superRefine((e, ctx) => {
  const problem = shapeProblem(e);
  if (problem) ctx.addIssue({ code: "custom", message: problem, path: ["op"] });
});

export type Envelope = z.infer<typeof envelopeSchema>;
export type SourceInfo = z.infer<typeof sourceInfoSchema>;
export type Transaction = z.infer<typeof transactionSchema>;
/** A row image: column name to JSON value (SPEC §2 value mapping). */
export type Row = NonNullable<Envelope["after"]>;
export type JsonValue = Row[string];

/** The rules that tie `op` to the other fields; null when the envelope is consistent. */
function shapeProblem(e: Pick<Envelope, "op" | "before" | "after" | "changed" | "key">) {
  switch (e.op) {
    case "c":
    case "r":
      if (e.after === null) return `op "${e.op}" needs an after image`;
      if (e.changed !== null) return `op "${e.op}" has no changed list`;
      return null;
    case "u":
      return e.after === null ? `op "u" needs an after image` : null;
    case "d":
      if (e.after !== null) return `op "d" has no after image`;
      return e.changed !== null ? `op "d" has no changed list` : null;
    case "t":
      if (e.after !== null || e.before !== null) return `op "t" has no row images`;
      return Object.keys(e.key).length > 0 ? `op "t" has an empty key` : null;
  }
}

/** Where a change happened, as its source reports it. */
export interface Origin {
  readonly connector: Connector;
  readonly name: string;
  readonly db: string;
  readonly schema: string | null;
  readonly table: string;
  readonly position: string;
  readonly txId: string | null;
  /** Commit time at the source, in microseconds since the epoch. */
  readonly commitUs: number;
  readonly snapshot?: SnapshotMark;
  /** The sync service whose write this was, when its marker began the transaction. */
  readonly writer?: SyncOrigin | null;
}

export interface EnvelopeParts {
  readonly id: string;
  readonly op: Op;
  readonly before: Row | null;
  readonly after: Row | null;
  /**
   * The key columns, picked from the row image (after, else before, else `keyImage`), or the
   * key itself when the source states it (MongoDB's document key).
   */
  readonly key: readonly string[] | Row;
  /** An image holding only the key (a PostgreSQL delete without its old row). */
  readonly keyImage?: Row | null;
  /** Omitted: computed for updates that carry both images, null otherwise. */
  readonly changed?: string[] | null;
  /** The column naming the row's bucket, or null for tables without one. */
  readonly bucketColumn: string | null;
  readonly origin: Origin;
  readonly transaction: Transaction | null;
  /** When the listener emitted the change, in microseconds since the epoch. */
  readonly emittedUs: number;
}

/** The one envelope constructor: field order, key, `changed` and bucket decided here only. */
export function makeEnvelope(p: EnvelopeParts): Envelope {
  const o = p.origin;
  const image = p.after ?? p.before ?? p.keyImage ?? null;
  const key = Array.isArray(p.key) ? (image ? pickKey(image, p.key) : {}) : p.key as Row;
  const changed = p.changed !== undefined
    ? p.changed
    : p.op === "u" && p.before && p.after
    ? changedColumns(p.before, p.after)
    : null;
  const owner = p.op === "d" ? p.before : p.after;
  return {
    id: p.id,
    op: p.op,
    before: p.before,
    after: p.after,
    key,
    changed,
    bucket: p.bucketColumn && owner ? bucketValue(owner[p.bucketColumn]) : null,
    source: {
      version: VERSION,
      connector: o.connector,
      name: o.name,
      db: o.db,
      schema: o.schema,
      table: o.table,
      position: o.position,
      txId: o.txId,
      ts_ms: Math.floor(o.commitUs / 1000),
      ts_us: o.commitUs,
      ts_ns: o.commitUs * 1000,
      snapshot: o.snapshot ?? "false",
      ...(o.writer ? { origin: o.writer } : {}),
    },
    transaction: p.transaction,
    ts_ms: Math.floor(p.emittedUs / 1000),
    ts_us: p.emittedUs,
    ts_ns: p.emittedUs * 1000,
  };
}

/** Microseconds since the epoch, now. */
export function nowUs(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

/** `schema.table` where the source has schemas, `db.table` where it has not. */
export function qualifiedTable(source: Pick<SourceInfo, "schema" | "db" | "table">): string {
  return `${source.schema ?? source.db}.${source.table}`;
}

/** The row an envelope describes: the new image, or the old one for deletes. */
export function rowOf(e: Pick<Envelope, "op" | "before" | "after">): Row | null {
  return e.op === "d" ? e.before : e.after;
}

/** The key columns of a row image (those it has). */
export function pickKey(row: Row, columns: readonly string[]): Row {
  const key: Row = {};
  for (const c of columns) if (Object.hasOwn(row, c)) key[c] = row[c]!;
  return key;
}

/** The table the sync service writes first in every transaction it applies (SPEC §8.2). */
export const SYNC_MARKER_TABLE = "synchub_sync_marker";

/**
 * The sync origin a transaction's first change says, when it is a row of the sync marker table
 * (`instance`, `direction` columns); null for any other change.
 */
export function markerOrigin(table: string, row: Row | null): SyncOrigin | null {
  if (table !== SYNC_MARKER_TABLE || row === null) return null;
  const { instance, direction } = row;
  return typeof instance === "string" && typeof direction === "string"
    ? { instance, direction }
    : null;
}
