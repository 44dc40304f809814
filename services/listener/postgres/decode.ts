/**
 * pgoutput messages → envelopes, without I/O. `TransactionDecoder` turns a transaction's messages
 * into parts as they arrive — no transaction is ever held whole, whatever its size — and
 * `toEnvelopes` turns a part into SPEC §2 envelopes.
 */
import type { Pgoutput } from "pg-logical-replication";
import {
  type Envelope,
  makeEnvelope,
  markerOrigin,
  pickKey,
  type Row,
  type SyncOrigin,
} from "../../../lib/envelope.ts";
import { textDecoderFor } from "../../../lib/postgres/values.ts";
import { TRACE_MESSAGE_PREFIX } from "../../../lib/tracing.ts";
import { changePosition, parseLsn } from "./position.ts";

export type Relation = Pgoutput.MessageRelation;

export type DecodedChange =
  | { op: "c"; relation: Relation; after: Row }
  | { op: "u"; relation: Relation; before: Row | null; after: Row }
  | { op: "d"; relation: Relation; before: Row | null; keyTuple: Row | null }
  | { op: "t"; relation: Relation };

/** What a transaction is, as its BEGIN (and, for the sync's marker, its first change) says. */
export interface TxHeader {
  readonly xid: number;
  readonly commitLsn: bigint;
  /** Commit time, microseconds since the epoch. */
  readonly commitUs: number;
  /** Written by a SyncHub sync service (its marker row came first), else null. */
  origin: SyncOrigin | null;
  /** The W3C traceparent its writer put in the WAL with it (lib/tracing.ts), if traced. */
  traceparent?: string;
}

/** A change with its place in its transaction (1-based) and among its table's changes there. */
export interface PlacedChange {
  readonly change: DecodedChange;
  readonly index: number;
  readonly tableOrder: number;
}

/** A part of a transaction, in order; its last part carries where the commit record ends. */
export interface DecodedPart {
  readonly tx: TxHeader;
  readonly changes: readonly PlacedChange[];
  /** The LSN to confirm once the whole transaction is on the bus; null before its last part. */
  readonly endLsn: bigint | null;
}

/**
 * Points the library's tuple parser at our value mapping. The parser keeps relation messages and
 * reads later tuples through the column parsers of the cached object, so replacing them here,
 * before any tuple of the relation arrives, decides how every value is decoded.
 */
export function adoptValueMapping(relation: Relation): void {
  for (const column of relation.columns) column.parser = textDecoderFor(column.typeOid);
}

export class TransactionDecoder {
  private tx:
    | { header: TxHeader; index: number; perTable: Map<number, number>; part: PlacedChange[] }
    | undefined;

  /** `partSize`: the most changes a part holds before it leaves, ahead of the commit. */
  constructor(private readonly partSize = 500) {}

  /** True between transactions: nothing received is waiting for its commit. */
  get idle(): boolean {
    return this.tx === undefined;
  }

  /** Feeds one message; returns a part when one is full or the transaction committed. */
  push(msg: Pgoutput.Message): DecodedPart | null {
    switch (msg.tag) {
      case "begin":
        this.tx = {
          header: {
            xid: msg.xid >>> 0,
            commitLsn: parseLsn(msg.commitLsn ?? "0/0"),
            commitUs: Number(msg.commitTime as bigint),
            origin: null,
          },
          index: 0,
          perTable: new Map(),
          part: [],
        };
        return null;
      case "relation":
        adoptValueMapping(msg);
        return null;
      case "insert":
        return this.add({ op: "c", relation: msg.relation, after: clean(msg.new) });
      case "update":
        return this.add({
          op: "u",
          relation: msg.relation,
          before: msg.old ? clean(msg.old) : null,
          after: clean(msg.new),
        });
      case "delete":
        return this.add({
          op: "d",
          relation: msg.relation,
          before: msg.old ? clean(msg.old) : null,
          keyTuple: msg.key ? clean(msg.key) : null,
        });
      case "truncate": {
        let full: DecodedPart | null = null;
        for (const relation of msg.relations) full = this.add({ op: "t", relation }) ?? full;
        return full;
      }
      case "commit": {
        const tx = this.tx;
        this.tx = undefined;
        if (!tx) throw new Error("pgoutput commit without begin");
        return { tx: tx.header, changes: tx.part, endLsn: parseLsn(msg.commitEndLsn ?? "0/0") };
      }
      case "message":
        // A traced writer's context, written in the transaction ahead of its rows.
        if (msg.transactional && msg.prefix === TRACE_MESSAGE_PREFIX && this.tx) {
          this.tx.header.traceparent = new TextDecoder().decode(msg.content);
        }
        return null;
      default:
        return null; // origin and type messages carry no row changes
    }
  }

  private add(change: DecodedChange): DecodedPart | null {
    const tx = this.tx;
    if (!tx) throw new Error(`pgoutput ${change.op} outside a transaction`);
    tx.index++;
    if (tx.index === 1) {
      // A transaction the sync service wrote starts with its marker row: tag it, skip the row.
      const image = change.op === "c" || change.op === "u" ? change.after : null;
      const origin = markerOrigin(change.relation.name, image);
      if (origin) {
        tx.header.origin = origin;
        return null;
      }
    }
    const oid = change.relation.relationOid;
    const tableOrder = (tx.perTable.get(oid) ?? 0) + 1;
    tx.perTable.set(oid, tableOrder);
    tx.part.push({ change, index: tx.index, tableOrder });
    if (tx.part.length < this.partSize) return null;
    const full = tx.part;
    tx.part = [];
    return { tx: tx.header, changes: full, endLsn: null };
  }
}

export interface EnvelopeContext {
  readonly sourceName: string;
  readonly db: string;
  /** The bucket column of a relation (the access policy's), or null. */
  bucketColumn(relation: Relation): string | null;
  /** The row key columns of a relation: its primary key where it has one. */
  keyColumns(relation: Relation): readonly string[];
  /** Microseconds since the epoch. */
  now(): number;
}

/** The envelopes of a part of a transaction. */
export function toEnvelopes(part: DecodedPart, ctx: EnvelopeContext): Envelope[] {
  const { tx } = part;
  const txId = String(tx.xid);
  const emittedUs = ctx.now();
  return part.changes.map(({ change, index, tableOrder }) => {
    const { relation } = change;
    const position = changePosition(tx.commitLsn, index);
    return makeEnvelope({
      id: `${ctx.sourceName}:${position}`,
      op: change.op,
      before: change.op === "u"
        ? change.before
        : change.op === "d"
        ? change.before ?? keyImage(change.keyTuple, relation)
        : null,
      after: change.op === "c" || change.op === "u" ? change.after : null,
      key: change.op === "t" ? {} : ctx.keyColumns(relation),
      keyImage: change.op === "d" ? change.keyTuple : null,
      bucketColumn: ctx.bucketColumn(relation),
      origin: {
        connector: "postgresql",
        name: ctx.sourceName,
        db: ctx.db,
        schema: relation.schema,
        table: relation.name,
        position,
        txId,
        commitUs: tx.commitUs,
        writer: tx.origin,
      },
      transaction: { id: txId, total_order: index, data_collection_order: tableOrder },
      emittedUs,
    });
  });
}

/**
 * A delete's old key tuple (REPLICA IDENTITY DEFAULT or USING INDEX) as its `before`: the replica
 * identity columns only — the server sends the others as nulls it does not know (SPEC §11).
 */
function keyImage(tuple: Row | null, relation: Relation): Row | null {
  return tuple === null ? null : pickKey(tuple, relation.keyColumns);
}

/**
 * A tuple as a plain row, without the columns the server did not send (unchanged TOAST with no
 * old image). The parser's tuples have no prototype; plain objects built in column order share
 * one shape per table, which serialises markedly faster.
 */
function clean(tuple: Record<string, unknown>): Row {
  const row: Row = {};
  for (const k in tuple) if (tuple[k] !== undefined) row[k] = tuple[k] as Row[string];
  return row;
}
