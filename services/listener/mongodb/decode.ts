/**
 * Change events (MongoDB's documented shapes) → envelopes, without I/O. `after` is the full
 * document (`fullDocument: "updateLookup"`), `before` the pre-image where the collection has
 * pre-images enabled, `changed` the top-level fields of `updateDescription`.
 */
import { Buffer } from "node:buffer";
import { changedColumns } from "../../../lib/diff.ts";
import { type Envelope, type JsonValue, makeEnvelope, type Row } from "../../../lib/envelope.ts";
import { changePosition } from "./position.ts";

export interface ChangeEvent {
  _id: unknown;
  operationType: string;
  clusterTime?: { t?: number; i?: number; high?: number; low?: number } | undefined;
  wallTime?: Date | undefined;
  ns?: { db: string; coll?: string } | undefined;
  documentKey?: { _id: unknown } | undefined;
  fullDocument?: Record<string, unknown> | null | undefined;
  fullDocumentBeforeChange?: Record<string, unknown> | null | undefined;
  updateDescription?:
    | { updatedFields?: Record<string, unknown>; removedFields?: string[] }
    | undefined;
  txnNumber?: unknown;
  lsid?: { id?: unknown } | undefined;
}

/** The stream cannot go on: invalidated, or its resume point is gone from the oplog. */
export class ChangeStreamEnded extends Error {
  override name = "ChangeStreamConfigError";
}

export interface EnvelopeContext {
  readonly sourceName: string;
  /** A collection's bucket field (the access policy's), or null. */
  bucketColumn(db: string, collection: string): string | null;
  /** Microseconds since the epoch. */
  now(): number;
}

/** Cluster time of an event as (seconds, increment). */
export function clusterTimeOf(e: ChangeEvent): { t: number; i: number } {
  const c = e.clusterTime;
  return { t: Number(c?.t ?? c?.high ?? 0), i: Number(c?.i ?? c?.low ?? 0) };
}

/**
 * The envelope of one event; `index` orders events that share a cluster time (a transaction's).
 * Undefined for events that carry no row change; throws ChangeStreamEnded on `invalidate`.
 */
export function toEnvelope(
  e: ChangeEvent,
  index: number,
  ctx: EnvelopeContext,
): Envelope | undefined {
  if (e.operationType === "invalidate") {
    throw new ChangeStreamEnded(
      "the change stream was invalidated (a watched collection or the database was dropped or renamed); " +
        "clear the source's stored position to start afresh",
    );
  }
  const ops: Record<string, "c" | "u" | "d" | "t"> = {
    insert: "c",
    update: "u",
    replace: "u",
    delete: "d",
    drop: "t",
  };
  const op = ops[e.operationType];
  if (!op || !e.ns?.coll) return undefined;
  const { t, i } = clusterTimeOf(e);
  const position = changePosition(t, i, index);
  const key: Row = e.documentKey ? { _id: bsonValue(e.documentKey._id) } : {};
  const before = e.fullDocumentBeforeChange ? document(e.fullDocumentBeforeChange) : null;
  let after: Row | null = e.fullDocument ? document(e.fullDocument) : null;
  if (op === "u" && after === null) {
    // The document was gone by the time of the lookup: keep what the event itself says.
    after = { ...key, ...topLevel(e.updateDescription?.updatedFields ?? {}) };
  }
  const txId = e.txnNumber !== undefined ? `${hexOf(e.lsid?.id)}:${String(e.txnNumber)}` : null;
  return makeEnvelope({
    id: `${ctx.sourceName}:${tokenData(e._id)}`,
    op,
    // Without a pre-image a delete's before is its key (SPEC §11: at least the key columns).
    before: op === "c" || op === "t" ? null : op === "d" ? before ?? key : before,
    after: op === "d" || op === "t" ? null : after,
    key: op === "t" ? {} : key,
    changed: op !== "u"
      ? null
      : e.operationType === "update"
      ? changedFields(e)
      : before && after
      ? changedColumns(before, after)
      : null,
    bucketColumn: ctx.bucketColumn(e.ns.db, e.ns.coll),
    origin: {
      connector: "mongodb",
      name: ctx.sourceName,
      db: e.ns.db,
      schema: null,
      table: e.ns.coll,
      position,
      txId,
      commitUs: (e.wallTime ? e.wallTime.getTime() : t * 1000) * 1000,
    },
    transaction: txId
      ? { id: txId, total_order: index + 1, data_collection_order: index + 1 }
      : null,
    emittedUs: ctx.now(),
  });
}

/** Top-level fields an update touched: `a.b` counts as `a`. */
function changedFields(e: ChangeEvent): string[] {
  const fields = [
    ...Object.keys(e.updateDescription?.updatedFields ?? {}),
    ...(e.updateDescription?.removedFields ?? []),
  ].map((f) => f.split(".")[0]!);
  return [...new Set(fields)];
}

function topLevel(fields: Record<string, unknown>): Row {
  const row: Row = {};
  for (const [k, v] of Object.entries(fields)) if (!k.includes(".")) row[k] = bsonValue(v);
  return row;
}

function document(d: Record<string, unknown>): Row {
  const row: Row = {};
  for (const [k, v] of Object.entries(d)) row[k] = bsonValue(v);
  return row;
}

/**
 * BSON → JSON (SPEC §2): ObjectId as hex, dates ISO-8601, Decimal128 and 64-bit integers beyond
 * 2^53 as strings, binary as base64 (UUIDs as UUID text), nested documents and arrays likewise.
 */
export function bsonValue(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
  if (typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (Array.isArray(v)) return v.map(bsonValue);
  if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
  const b = v as { _bsontype?: string; toHexString?: () => string; toString: () => string };
  switch (b._bsontype) {
    case "ObjectId":
    case "ObjectID":
      return b.toHexString!();
    case "Decimal128":
      return b.toString();
    case "Long": {
      const n = Number(b.toString());
      return Number.isSafeInteger(n) ? n : b.toString();
    }
    case "Int32":
    case "Double":
      return Number((v as { valueOf(): number }).valueOf());
    case "Binary": {
      const bin = v as {
        sub_type?: number;
        buffer: Uint8Array;
        toUUID?: () => { toString(): string };
      };
      if (bin.sub_type === 4 && bin.toUUID) return bin.toUUID().toString();
      return Buffer.from(bin.buffer).toString("base64");
    }
    case "Timestamp": {
      const ts = v as { t?: number; i?: number; high?: number; low?: number };
      return `${ts.t ?? ts.high}:${ts.i ?? ts.low}`;
    }
    case "BSONRegExp":
    case "MinKey":
    case "MaxKey":
    case "Code":
    case "BSONSymbol":
      return b.toString();
  }
  if (v instanceof RegExp) return v.toString();
  const out: Row = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = bsonValue(x);
  return out;
}

function tokenData(token: unknown): string {
  const data = (token as { _data?: unknown })?._data;
  return typeof data === "string" ? data : JSON.stringify(token);
}

function hexOf(id: unknown): string {
  const bin = id as { buffer?: Uint8Array } | undefined;
  return bin?.buffer ? Buffer.from(bin.buffer).toString("hex") : String(id ?? "");
}
