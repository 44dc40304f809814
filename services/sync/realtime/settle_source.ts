/**
 * The two captures race: a row changed on both sides may reach the other direction first, and
 * that direction — not yet knowing of this side's change (a delete it has not read, say) —
 * copies the other side's version over this side's. When this direction then meets the
 * conflict, the source no longer holds its own version but exactly the target's: the sync put
 * it there. So after deciding, the source is set to what the decision says — the winner, or
 * for a parked row its own version (neither side overwritten) — but only where it still holds
 * the target's row; a source that moved on has a newer change on its way.
 */
import type { Row } from "../../../lib/envelope.ts";
import type { Side } from "../config.ts";
import { markerFor, type SyncContext } from "../context.ts";
import type { WriteOp } from "../engine/database.ts";
import { applyIsolating } from "../engine/isolate.ts";
import { type HashSpec, keyOf, keyString, rowHash } from "../row_hash.ts";
import type { TableShape } from "../table_shape.ts";

export interface Settlement {
  /** The target's row as the conflict found it. */
  readonly there: Row;
  /** What the source should hold: the winner's row, or its own version; null: deleted. */
  readonly desired: Row | null;
  /** Names the row (any image of it). */
  readonly image: Row;
}

/** Writes the source where it holds the target's row; returns how many rows it wrote. */
export async function settleSource(
  ctx: SyncContext,
  source: Side,
  shape: TableShape,
  spec: HashSpec,
  settlements: readonly Settlement[],
): Promise<number> {
  if (settlements.length === 0) return 0;
  const found = await ctx.databases[source].readByKeys(
    shape,
    settlements.map((s) => keyOf(s.image, spec)),
  );
  const current = new Map(found.map((r) => [keyString(r, spec), r]));
  const ops: WriteOp[] = [];
  for (const s of settlements) {
    const here = current.get(keyString(s.image, spec));
    if (!here || rowHash(here, spec) !== rowHash(s.there, spec)) continue;
    if (s.desired === null) ops.push({ kind: "delete", key: keyOf(s.image, spec) });
    else if (rowHash(s.desired, spec) !== rowHash(here, spec)) {
      ops.push({ kind: "upsert", row: s.desired });
    }
  }
  const outcome = await applyIsolating(
    ctx.databases[source],
    shape,
    ops,
    markerFor(ctx, source),
    (op, reason) => {
      ctx.log.warn("could not set a conflicting row back on its source", {
        table: shape.name,
        side: source,
        key: op.kind === "delete" ? op.key : keyOf(op.row, spec),
        reason,
      });
      return Promise.resolve();
    },
  );
  return outcome.applied;
}
