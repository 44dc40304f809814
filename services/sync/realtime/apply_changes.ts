/**
 * Applies one source side's changes to the other side (SPEC §8.2 realtime): each change is
 * checked against the target's current row by hashes (conflict.ts), conflicts go to the table's
 * strategy, parked rows stay parked (`planChanges`), and the writes of one or several tables
 * commit in one transaction, the marker first, before anything is recorded as synced
 * (commit_plans.ts). Several changes to one key in a batch are merged in order: the first
 * `before`, the last `after`.
 */
import type { Envelope, Row } from "../../../lib/envelope.ts";
import type { Side, TableConfig } from "../config.ts";
import { checkChange } from "../conflict.ts";
import { other, type SyncContext } from "../context.ts";
import type { WriteOp } from "../engine/database.ts";
import { hashSpec, keyHash, keyOf, keyString, rowHash } from "../row_hash.ts";
import type { NewConflict } from "../state_store/store.ts";
import { decide, type Version } from "../strategies.ts";
import { type ApplyResult, commitPlans, type TablePlan } from "./commit_plans.ts";
import type { Settlement } from "./settle_source.ts";
import { SchemaMismatch, shapeMismatch, type TableShape } from "../table_shape.ts";

export interface SourceChange {
  readonly op: "c" | "u" | "d" | "r";
  readonly before: Row | null;
  readonly after: Row | null;
  /** Commit time at the source: a delete's time for last_write_wins. */
  readonly tsMs: number;
  /** The row's key, for a delete whose source sent no old image (PostgreSQL's default). */
  readonly key?: Row;
}

/** The part of an envelope the applier needs; truncates are not propagated (null). */
export function changeOf(
  e: Pick<Envelope, "op" | "before" | "after" | "source" | "key">,
): SourceChange | null {
  if (e.op === "t") return null;
  return { op: e.op, before: e.before, after: e.after, tsMs: e.source.ts_ms, key: e.key };
}

/** The image that names the row: the new one, else the old one, else the key alone. */
const imageOf = (c: SourceChange): Row | null => c.after ?? c.before ?? c.key ?? null;

/**
 * A source image completed with the target's values for the columns it does not carry
 * (unchanged TOAST values, oversize ones): those are taken as unchanged, as the write leaves
 * them alone too.
 */
const completed = (image: Row, target: Row | null): Row => target ? { ...target, ...image } : image;

/** Decides and writes one table's changes; the position, if given, is stored after the commit. */
export async function applyChanges(
  ctx: SyncContext,
  table: TableConfig,
  source: Side,
  changes: readonly SourceChange[],
  opts: { position?: string; shapes?: Record<Side, TableShape> } = {},
): Promise<ApplyResult> {
  const shapes = opts.shapes ?? {
    local: await ctx.databases.local.describe(table),
    cloud: await ctx.databases.cloud.describe(table),
  };
  const plan = await planChanges(ctx, table, source, changes, shapes);
  const { mismatched } = await commitPlans(
    ctx,
    [plan],
    opts.position === undefined ? {} : { position: opts.position },
  );
  const why = mismatched.get(table.name);
  if (why) throw new SchemaMismatch(why);
  return plan.result;
}

/**
 * Reads what the decisions need (the target's rows, parked rows, tombstones), records conflicts,
 * and returns the writes; throws SchemaMismatch when the target cannot take the source's rows.
 */
export async function planChanges(
  ctx: SyncContext,
  table: TableConfig,
  source: Side,
  changes: readonly SourceChange[],
  shapes: Record<Side, TableShape>,
): Promise<TablePlan> {
  const target = other(source);
  const mismatch = shapeMismatch(shapes[source], shapes[target], target);
  if (mismatch) throw new SchemaMismatch(mismatch);
  const spec = hashSpec(shapes[source], table);
  const result: ApplyResult = { applied: 0, skipped: 0, conflicts: 0, parked: 0, rejected: 0 };

  const merged = new Map<string, SourceChange>();
  for (const c of changes) {
    const image = imageOf(c);
    if (!image) continue;
    const k = keyString(image, spec);
    const earlier = merged.get(k);
    merged.set(k, earlier ? mergeChanges(earlier, c) : c);
  }
  const keys = [...merged.keys()];
  const hashes = keys.map((k) => keyHash(table.name, k));
  const parked = await ctx.store.openConflicts(table.name, hashes);
  const tombstoned = await ctx.store.tombstoned(table.name, hashes);
  const found = await ctx.databases[target].readByKeys(
    shapes[target],
    [...merged.values()].map((c) => keyOf(imageOf(c)!, spec)),
  );
  const current = new Map(found.map((r) => [keyString(r, spec), r]));

  const ops: WriteOp[] = [];
  const settlements: Settlement[] = [];
  const deleted: string[] = [];
  const upserted: string[] = [];
  for (const [i, k] of keys.entries()) {
    const c = merged.get(k)!;
    const kh = hashes[i]!;
    const image = imageOf(c)!;
    const there = current.get(k) ?? null;
    const mine: Version = c.op === "d" ? { row: null, deletedAtMs: c.tsMs } : { row: c.after };
    const versions = { [source]: mine, [target]: { row: there } } as Record<Side, Version>;
    const conflict: NewConflict = {
      table: table.name,
      primary_key: keyOf(image, spec),
      key_hash: kh,
      local_data: versions.local.row,
      cloud_data: versions.cloud.row,
      conflict_type: "update_update",
    };
    if (c.op === "d") deleted.push(kh);
    else if (tombstoned.has(kh)) upserted.push(kh); // only tombstones that exist need clearing
    if (parked.has(kh)) {
      await ctx.store.recordConflict(conflict); // keeps each side's newest version
      result.parked++;
      continue;
    }
    const verdict = checkChange({
      op: c.op,
      beforeHash: c.before ? rowHash(completed(c.before, there), spec) : null,
      afterHash: c.after ? rowHash(completed(c.after, there), spec) : null,
      targetHash: there ? rowHash(there, spec) : null,
      targetDeleted: tombstoned.has(kh),
    });
    if (verdict.kind === "skip") {
      result.skipped++;
      continue;
    }
    if (verdict.kind === "conflict") {
      const decision = decide({ local: versions.local, cloud: versions.cloud, table });
      const record = { ...conflict, conflict_type: verdict.type };
      if (there) {
        const desired = decision.action === "park" ? mine.row : versions[decision.winner].row;
        settlements.push({ there, desired, image });
      }
      if (decision.action === "park") {
        if ((await ctx.store.recordConflict(record)).created) result.conflicts++;
        result.parked++;
        continue;
      }
      const hashOf = (v: Version) => (v.row ? rowHash(v.row, spec) : "deleted");
      const { created } = await ctx.store.recordConflict({
        ...record,
        resolved_by: {
          strategy: decision.strategy,
          data: versions[decision.winner].row,
          versions: `${hashOf(versions.local)}:${hashOf(versions.cloud)}`,
        },
      });
      if (created) result.conflicts++;
      // The target's version wins: nothing to write here; its own change travels the other way.
      if (decision.winner === target) {
        result.skipped++;
        continue;
      }
    }
    ops.push(
      c.op === "d"
        ? { kind: "delete", key: keyOf(image, spec) }
        : { kind: "upsert", row: c.after! },
    );
  }

  return {
    table,
    source,
    shapes,
    spec,
    ops,
    settlements,
    deleted,
    upserted,
    current,
    result,
  };
}

/** Two changes of one row in commit order as one: the first's before, the last's after. */
export function mergeChanges(first: SourceChange, last: SourceChange): SourceChange {
  const key = last.key ?? first.key;
  const keyed = key ? { key } : {};
  if (last.op === "d") {
    return { op: "d", before: first.before, after: null, tsMs: last.tsMs, ...keyed };
  }
  // Created in this batch stays a create; anything else compares the target with `first.before`.
  const op = first.op === "c" || first.op === "r" ? first.op : "u";
  return { op, before: first.before, after: last.after, tsMs: last.tsMs, ...keyed };
}
