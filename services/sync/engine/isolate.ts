/**
 * Applies a batch so that one bad row cannot sink it: on a row-level refusal the batch is split
 * in halves, each applied in its own transaction, down to the single rows the target refuses —
 * those go to `onRejected`; everything else commits. Lock conflicts are retried; a missing
 * table or column is a SchemaMismatch; anything else (the database is gone) is thrown.
 */
import { backoffDelay, sleep } from "../../../lib/retry.ts";
import { SchemaMismatch, type TableShape } from "../table_shape.ts";
import type { MarkerTag, SyncDatabase, WriteOp } from "./database.ts";
import { classifyDbError, errorText } from "./db_errors.ts";

export interface IsolateResult {
  applied: number;
  rejected: number;
  /** Transactions committed (for tests and metrics). */
  transactions: number;
}

export async function applyIsolating(
  db: SyncDatabase,
  shape: TableShape,
  ops: readonly WriteOp[],
  marker: MarkerTag,
  onRejected: (op: WriteOp, reason: string) => Promise<void>,
): Promise<IsolateResult> {
  const result: IsolateResult = { applied: 0, rejected: 0, transactions: 0 };
  const step = async (part: readonly WriteOp[]): Promise<void> => {
    if (part.length === 0) return;
    for (let attempt = 0;; attempt++) {
      try {
        await db.apply(shape, part, marker);
        result.applied += part.length;
        result.transactions++;
        return;
      } catch (err) {
        const kind = classifyDbError(err);
        if (kind === "retry" && attempt < 5) {
          await sleep(backoffDelay("other", attempt));
          continue;
        }
        if (kind === "schema") {
          throw new SchemaMismatch(`${shape.name} on ${db.side}: ${errorText(err)}`);
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
  await step(ops);
  return result;
}
