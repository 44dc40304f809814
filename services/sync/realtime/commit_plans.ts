/**
 * Writes the plans of one batch — several tables of one direction — to the target in as few
 * transactions as it allows (one, unless a row is refused: engine/isolate.ts), each starting
 * with the marker. Only after the commit is anything recorded as synced: rows_synced and, when
 * given, the position. A table whose schema the target refuses commits nothing and is named in
 * `mismatched`; the other tables of the batch commit.
 */
import { directionTo, markerFor, other, type SyncContext } from "../context.ts";
import { applyIsolatingMany, type TableOp } from "../engine/isolate.ts";
import { keyHash, keyOf, keyString } from "../row_hash.ts";
import type { Row } from "../../../lib/envelope.ts";
import type { Side, TableConfig } from "../config.ts";
import type { WriteOp } from "../engine/database.ts";
import type { HashSpec } from "../row_hash.ts";
import type { TableShape } from "../table_shape.ts";
import { type Settlement, settleSource } from "./settle_source.ts";

export interface ApplyResult {
  applied: number;
  skipped: number;
  conflicts: number;
  parked: number;
  rejected: number;
}

/** One table's share of a batch, decided but not written yet (apply_changes.ts). */
export interface TablePlan {
  readonly table: TableConfig;
  readonly source: Side;
  readonly shapes: Record<Side, TableShape>;
  readonly spec: HashSpec;
  /** Writes for the target. */
  readonly ops: WriteOp[];
  /** Conflicts whose source may need setting as decided (settle_source.ts). */
  readonly settlements: Settlement[];
  /** Key hashes deleted by this batch, and upserted ones that had a tombstone. */
  readonly deleted: string[];
  readonly upserted: string[];
  /** The target's rows as read, by key string. */
  readonly current: ReadonlyMap<string, Row>;
  readonly result: ApplyResult;
}

export async function commitPlans(
  ctx: SyncContext,
  plans: readonly TablePlan[],
  opts: {
    position?: string;
    /** False: the caller records rows synced itself (realtime does, with its positions). */
    recordProgress?: boolean;
  } = {},
): Promise<{ mismatched: ReadonlyMap<string, string> }> {
  const { position } = opts;
  const first = plans[0];
  if (!first) return { mismatched: new Map() };
  const source = first.source;
  const target = other(source);
  for (const p of plans) {
    // A delete seen in realtime is remembered, so a batch run never brings the row back.
    await ctx.store.addTombstones(p.table.name, p.deleted);
    await ctx.store.clearTombstones(p.table.name, p.upserted);
  }
  const planOf = new Map(plans.map((p) => [p.table.name, p]));
  const items: TableOp[] = plans.flatMap((p) =>
    p.ops.map((op) => ({ shape: p.shapes[target], op }))
  );
  const outcome = await applyIsolatingMany(
    ctx.databases[target],
    items,
    markerFor(ctx, target),
    async ({ shape, op }, reason) => {
      const p = planOf.get(shape.name)!;
      const row = op.kind === "upsert" ? op.row : op.key;
      const k = keyString(row, p.spec);
      const there = p.current.get(k) ?? null;
      const { created } = await ctx.store.recordConflict({
        table: p.table.name,
        primary_key: keyOf(row, p.spec),
        key_hash: keyHash(p.table.name, k),
        local_data: source === "local" ? row : there,
        cloud_data: source === "cloud" ? row : there,
        conflict_type: "apply_error",
        error: `${target} refused the row: ${reason}`,
      });
      if (created) p.result.conflicts++;
      p.result.rejected++;
    },
  );
  for (const p of plans) {
    if (outcome.mismatched.has(p.table.name)) continue;
    p.result.applied = outcome.appliedBy.get(p.table.name) ?? 0;
    // The other direction may have copied the target's row onto the source meanwhile.
    p.result.applied += await settleSource(ctx, source, p.shapes[source], p.spec, p.settlements);
    if (opts.recordProgress === false) continue;
    // Only now that the target has committed (a crash before this replays the batch: harmless).
    await ctx.store.recordProgress(p.table.name, directionTo(target), {
      rows: p.result.applied,
      ...(position === undefined ? {} : { position }),
    });
  }
  return { mismatched: outcome.mismatched };
}
