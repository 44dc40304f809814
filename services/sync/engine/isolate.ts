/**
 * Applies a batch so that one bad row cannot sink it: on a row-level refusal the batch is split
 * in halves, each applied in its own transaction, down to the single rows the target refuses —
 * those go to `onRejected`; everything else commits. Lock conflicts are retried; a missing
 * table or column is a SchemaMismatch of that table (the other tables of a batch still commit);
 * anything else (the database is gone) is thrown.
 */
import { backoffDelay, sleep } from "../../../lib/retry.ts";
import { SchemaMismatch, type TableShape } from "../table_shape.ts";
import type { MarkerTag, SyncDatabase, TableWrites, WriteOp } from "./database.ts";
import { classifyDbError, errorText } from "./db_errors.ts";

export interface IsolateResult {
  applied: number;
  rejected: number;
  /** Transactions committed (for tests and metrics). */
  transactions: number;
}

/** A write and the table it goes to. */
export interface TableOp {
  readonly shape: TableShape;
  readonly op: WriteOp;
}

export interface IsolateManyResult extends IsolateResult {
  /** Rows committed, per table (configured name). */
  readonly appliedBy: Map<string, number>;
  /** Tables whose schema the target refused, with why; none of their rows committed. */
  readonly mismatched: Map<string, string>;
}

/** One table's batch; a schema refusal is thrown as SchemaMismatch. */
export async function applyIsolating(
  db: SyncDatabase,
  shape: TableShape,
  ops: readonly WriteOp[],
  marker: MarkerTag,
  onRejected: (op: WriteOp, reason: string) => Promise<void>,
): Promise<IsolateResult> {
  const r = await applyIsolatingMany(
    db,
    ops.map((op) => ({ shape, op })),
    marker,
    (t, reason) => onRejected(t.op, reason),
  );
  const why = r.mismatched.get(shape.name);
  if (why) throw new SchemaMismatch(why);
  return { applied: r.applied, rejected: r.rejected, transactions: r.transactions };
}

/** Writes to several tables, in as few transactions as the target lets it. */
export async function applyIsolatingMany(
  db: SyncDatabase,
  items: readonly TableOp[],
  marker: MarkerTag,
  onRejected: (item: TableOp, reason: string) => Promise<void>,
): Promise<IsolateManyResult> {
  const result: IsolateManyResult = {
    applied: 0,
    rejected: 0,
    transactions: 0,
    appliedBy: new Map(),
    mismatched: new Map(),
  };
  const step = async (part: readonly TableOp[]): Promise<void> => {
    if (part.length === 0) return;
    for (let attempt = 0;; attempt++) {
      try {
        await db.applyMany(byTable(part), marker);
        result.applied += part.length;
        result.transactions++;
        for (const { shape } of part) {
          result.appliedBy.set(shape.name, (result.appliedBy.get(shape.name) ?? 0) + 1);
        }
        return;
      } catch (err) {
        const kind = classifyDbError(err);
        if (kind === "retry" && attempt < 5) {
          await sleep(backoffDelay("other", attempt));
          continue;
        }
        if (kind === "schema") {
          const tables = byTable(part);
          if (tables.length > 1) {
            // Which table? Each alone: the others still commit.
            for (const t of tables) await step(part.filter((i) => i.shape === t.shape));
            return;
          }
          const shape = part[0]!.shape;
          result.mismatched.set(shape.name, `${shape.name} on ${db.side}: ${errorText(err)}`);
          return;
        }
        if (kind !== "row") throw err;
        if (part.length === 1) {
          await onRejected(part[0]!, errorText(err));
          result.rejected++;
          return;
        }
        const half = Math.ceil(part.length / 2);
        await step(part.slice(0, half));
        await step(part.slice(half));
        return;
      }
    }
  };
  await step(items);
  return result;
}

function byTable(items: readonly TableOp[]): TableWrites[] {
  const out = new Map<TableShape, WriteOp[]>();
  for (const { shape, op } of items) {
    const ops = out.get(shape);
    if (ops) ops.push(op);
    else out.set(shape, [op]);
  }
  return [...out].map(([shape, ops]) => ({ shape, ops }));
}
