/**
 * The change envelope (SPEC §2): the one shape every source produces and every consumer reads.
 * Defined once as a zod schema; the TypeScript type is derived from it.
 */
import { z } from "zod";

const row = z.record(z.string(), z.json());

export const OPS = ["c", "u", "d", "r", "t"] as const;
export type Op = (typeof OPS)[number];

export const CONNECTORS = ["postgres", "mysql", "mongodb"] as const;
export type Connector = (typeof CONNECTORS)[number];

export const sourceInfoSchema = z.object({
  connector: z.enum(CONNECTORS),
  name: z.string().min(1),
  db: z.string(),
  schema: z.string().nullable(),
  table: z.string().min(1),
  position: z.string().min(1),
  txId: z.string().nullable(),
  ts_ms: z.number().int(),
  snapshot: z.boolean(),
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
}).superRefine((e, ctx) => {
  const problem = shapeProblem(e);
  if (problem) ctx.addIssue({ code: "custom", message: problem, path: ["op"] });
});

export type Envelope = z.infer<typeof envelopeSchema>;
export type SourceInfo = z.infer<typeof sourceInfoSchema>;
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

/** `schema.table` where the source has schemas, `db.table` where it has not. */
export function qualifiedTable(source: Pick<SourceInfo, "schema" | "db" | "table">): string {
  return `${source.schema ?? source.db}.${source.table}`;
}

/** The row an envelope describes: the new image, or the old one for deletes. */
export function rowOf(e: Pick<Envelope, "op" | "before" | "after">): Row | null {
  return e.op === "d" ? e.before : e.after;
}
