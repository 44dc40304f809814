/**
 * pgoutput messages → envelopes, without I/O. `TransactionAssembler` gathers the messages of one
 * transaction (pgoutput protocol 1 sends a transaction whole, at commit); `toEnvelopes` turns a
 * finished transaction into SPEC §2 envelopes.
 */
import type { Pgoutput } from "pg-logical-replication";
import { type Envelope, makeEnvelope, type Row } from "../../../lib/envelope.ts";
import { textDecoderFor } from "../../../lib/postgres/values.ts";
import { changePosition, parseLsn } from "./position.ts";

export type Relation = Pgoutput.MessageRelation;

export type DecodedChange =
  | { op: "c"; relation: Relation; after: Row }
  | { op: "u"; relation: Relation; before: Row | null; after: Row }
  | { op: "d"; relation: Relation; before: Row | null; keyTuple: Row | null }
  | { op: "t"; relation: Relation };

export interface DecodedTransaction {
  readonly xid: number;
  readonly commitLsn: bigint;
  /** Where the commit record ends: the LSN to confirm once this transaction is on the bus. */
  readonly endLsn: bigint;
  /** Commit time, microseconds since the epoch. */
  readonly commitUs: number;
  readonly changes: readonly DecodedChange[];
}

/**
 * Points the library's tuple parser at our value mapping. The parser keeps relation messages and
 * reads later tuples through the column parsers of the cached object, so replacing them here,
 * before any tuple of the relation arrives, decides how every value is decoded.
 */
export function adoptValueMapping(relation: Relation): void {
  for (const column of relation.columns) column.parser = textDecoderFor(column.typeOid);
}

export class TransactionAssembler {
  private current:
    | { xid: number; commitLsn: bigint; commitUs: number; changes: DecodedChange[] }
    | undefined;

  /** True between transactions: nothing received is waiting for its commit. */
  get idle(): boolean {
    return this.current === undefined;
  }

  /** Feeds one message; returns the transaction when this message committed it. */
  push(msg: Pgoutput.Message): DecodedTransaction | null {
    switch (msg.tag) {
      case "begin":
        this.current = {
          xid: msg.xid >>> 0,
          commitLsn: parseLsn(msg.commitLsn ?? "0/0"),
          commitUs: Number(msg.commitTime as bigint),
          changes: [],
        };
        return null;
      case "relation":
        adoptValueMapping(msg);
        return null;
      case "insert":
        this.add({ op: "c", relation: msg.relation, after: clean(msg.new) });
        return null;
      case "update":
        this.add({
          op: "u",
          relation: msg.relation,
          before: msg.old ? clean(msg.old) : null,
          after: clean(msg.new),
        });
        return null;
      case "delete":
        this.add({
          op: "d",
          relation: msg.relation,
          before: msg.old ? clean(msg.old) : null,
          keyTuple: msg.key ? clean(msg.key) : null,
        });
        return null;
      case "truncate":
        for (const relation of msg.relations) this.add({ op: "t", relation });
        return null;
      case "commit": {
        const tx = this.current;
        this.current = undefined;
        if (!tx) throw new Error("pgoutput commit without begin");
        return { ...tx, endLsn: parseLsn(msg.commitEndLsn ?? "0/0") };
      }
      default:
        return null; // origin, type and logical messages carry no row changes
    }
  }

  private add(change: DecodedChange): void {
    if (!this.current) throw new Error(`pgoutput ${change.op} outside a transaction`);
    this.current.changes.push(change);
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

export function toEnvelopes(tx: DecodedTransaction, ctx: EnvelopeContext): Envelope[] {
  const perTable = new Map<number, number>();
  const txId = String(tx.xid);
  const emittedUs = ctx.now();
  return tx.changes.map((change, i) => {
    const { relation } = change;
    const tableOrder = (perTable.get(relation.relationOid) ?? 0) + 1;
    perTable.set(relation.relationOid, tableOrder);
    const position = changePosition(tx.commitLsn, i + 1);
    const t = change.op === "t";
    return makeEnvelope({
      id: `${ctx.sourceName}:${position}`,
      op: change.op,
      before: change.op === "u" || change.op === "d" ? change.before : null,
      after: change.op === "c" || change.op === "u" ? change.after : null,
      key: t ? {} : ctx.keyColumns(relation),
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
      },
      transaction: { id: txId, total_order: i + 1, data_collection_order: tableOrder },
      emittedUs,
    });
  });
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
