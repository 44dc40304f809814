/**
 * One table's batch run (SPEC §8.2). The source side is read in primary-key order, `batch_size`
 * rows a page (the next page is read while this one is compared and written); each page is looked
 * up on the target by key, compared as a chunk hash first and row by row only when the chunks
 * differ, and only differing rows are written, one transaction per page and side. In
 * bidirectional mode a second pass reads the other side's keys only, to copy the rows the first
 * side lacks. Nothing is ever deleted; rows deleted in realtime (tombstones) and rows parked in an
 * unresolved conflict are left alone. Key lookups instead of a merge of two ordered scans keep the
 * two engines' collations from disagreeing on order.
 */
import type { Row } from "../../../lib/envelope.ts";
import type { Mode, Side, TableConfig } from "../config.ts";
import { planBatchRow } from "../conflict.ts";
import { directionTo, markerFor, other, type SyncContext } from "../context.ts";
import type { WriteOp } from "../engine/database.ts";
import { applyIsolating } from "../engine/isolate.ts";
import {
  chunkHash,
  type HashSpec,
  hashSpec,
  keyHash,
  keyOf,
  keyString,
  rowHash,
} from "../row_hash.ts";
import type { ConflictRecord, NewConflict } from "../state_store/store.ts";
import { decide } from "../strategies.ts";
import { SchemaMismatch, shapeMismatch, type TableShape } from "../table_shape.ts";

export interface TableRunOptions {
  readonly mode: Mode;
  readonly signal: AbortSignal;
  readonly onProgress: (rowsDone: number, rowsTotal: number) => void;
  readonly onConflict: (c: ConflictRecord) => void;
}

export interface TableRunResult {
  written: number;
  conflicts: number;
  rowsTotal: number;
  cancelled: boolean;
}

export async function syncTable(
  ctx: SyncContext,
  table: TableConfig,
  opts: TableRunOptions,
): Promise<TableRunResult> {
  const from: Side = opts.mode === "cloud_to_local" ? "cloud" : "local";
  const to = other(from);
  const bidirectional = opts.mode === "bidirectional";
  const db = ctx.databases;
  const shapes: Record<Side, TableShape> = {
    local: await db.local.describe(table),
    cloud: await db.cloud.describe(table),
  };
  const mismatch = shapeMismatch(shapes[from], shapes[to], to) ??
    (bidirectional ? shapeMismatch(shapes[to], shapes[from], from) : null);
  if (mismatch) throw new SchemaMismatch(mismatch);

  const spec = hashSpec(shapes[from], table);
  const batch = ctx.config.sync.batch_size;
  const result: TableRunResult = { written: 0, conflicts: 0, rowsTotal: 0, cancelled: false };
  result.rowsTotal = await db[from].count(shapes[from]) +
    (bidirectional ? await db[to].count(shapes[to]) : 0);
  let done = 0;
  opts.onProgress(0, result.rowsTotal);

  const page = new PageWriter(ctx, table, shapes, spec, result, opts.onConflict, opts.signal);

  // Pass 1: every row of `from`, compared with `to`.
  let next: Promise<Row[]> = db[from].readPage(shapes[from], null, batch);
  for (;;) {
    if (opts.signal.aborted) {
      await next.catch(() => {});
      result.cancelled = true;
      return result;
    }
    const rows = await next;
    if (rows.length === 0) break;
    next = rows.length < batch
      ? Promise.resolve([])
      : db[from].readPage(shapes[from], keyOf(rows.at(-1)!, spec), batch);
    next.catch(() => {}); // awaited on the next turn; never an unhandled rejection meanwhile
    if (!await page.compare(rows, from, bidirectional)) continue; // stopped: the check above ends it
    done += rows.length;
    opts.onProgress(done, result.rowsTotal = Math.max(done, result.rowsTotal));
  }

  // Pass 2 (bidirectional): keys of `to` that `from` lacks.
  let after: Row | null = null;
  while (bidirectional) {
    if (opts.signal.aborted) {
      result.cancelled = true;
      return result;
    }
    const keys = await db[to].readPage(shapes[to], after, batch, "key");
    if (keys.length === 0) break;
    after = keys.at(-1)!;
    if (!await page.copyMissing(keys, to)) continue;
    done += keys.length;
    opts.onProgress(done, result.rowsTotal = Math.max(done, result.rowsTotal));
  }
  // The totals were counted before the run; rows copied meanwhile make the second pass longer.
  opts.onProgress(done, result.rowsTotal = done);
  return result;
}

/** Compares and writes one page at a time; holds nothing between pages. */
class PageWriter {
  constructor(
    private readonly ctx: SyncContext,
    private readonly table: TableConfig,
    private readonly shapes: Record<Side, TableShape>,
    private readonly spec: HashSpec,
    private readonly result: TableRunResult,
    private readonly onConflict: (c: ConflictRecord) => void,
    /** Checked again after a page's reads, which may wait long (a locked or slow table). */
    private readonly signal: AbortSignal,
  ) {}

  /** False when the run was stopped while the page was read: nothing of it is written. */
  async compare(rows: readonly Row[], from: Side, bidirectional: boolean): Promise<boolean> {
    const to = other(from);
    const { spec, table, ctx } = this;
    const found = await ctx.databases[to].readByKeys(
      this.shapes[to],
      rows.map((r) => keyOf(r, spec)),
    );
    const targetBy = new Map(found.map((r) => [keyString(r, spec), r]));
    const keys = rows.map((r) => keyString(r, spec));
    const sourceHashes = rows.map((r) => rowHash(r, spec));
    const targetHashes = keys.map((k) => {
      const t = targetBy.get(k);
      return t ? rowHash(t, spec) : null;
    });
    const chunk = (hashes: readonly (string | null)[]) =>
      chunkHash(keys.map((k, i) => [k, hashes[i] ?? "-"] as const));
    if (chunk(sourceHashes) === chunk(targetHashes)) return true; // the whole chunk is in sync

    const differing = keys.flatMap((_, i) => (sourceHashes[i] !== targetHashes[i] ? [i] : []));
    const hashOf = (i: number) => keyHash(table.name, keys[i]!);
    const parked = await ctx.store.openConflicts(table.name, differing.map(hashOf));
    const missing = differing.filter((i) => targetHashes[i] === null);
    const tombstoned = missing.length
      ? await ctx.store.tombstoned(table.name, missing.map(hashOf))
      : new Set<string>();
    if (this.signal.aborted) return false; // before any conflict is recorded or row written

    const writes: Record<Side, WriteOp[]> = { local: [], cloud: [] };
    for (const i of differing) {
      const kh = hashOf(i);
      if (parked.has(kh)) continue;
      const source = rows[i]!;
      const target = targetBy.get(keys[i]!) ?? null;
      const plan = planBatchRow({
        sourceHash: sourceHashes[i]!,
        targetHash: targetHashes[i] ?? null,
        bidirectional,
        tombstoned: tombstoned.has(kh),
      });
      if (plan === "copy") writes[to].push({ kind: "upsert", row: source });
      if (plan !== "conflict") continue;
      const versions = { [from]: source, [to]: target } as Record<Side, Row | null>;
      const decision = decide({
        local: { row: versions.local },
        cloud: { row: versions.cloud },
        table,
      });
      const record: NewConflict = {
        table: table.name,
        primary_key: keyOf(source, spec),
        key_hash: kh,
        local_data: versions.local,
        cloud_data: versions.cloud,
        conflict_type: "diverged",
      };
      if (decision.action === "park") {
        await this.record(record);
        continue;
      }
      const winner = versions[decision.winner]!;
      writes[other(decision.winner)].push({ kind: "upsert", row: winner });
      await this.record({
        ...record,
        resolved_by: {
          strategy: decision.strategy,
          data: winner,
          versions: `${rowHash(versions.local!, spec)}:${rowHash(versions.cloud!, spec)}`,
        },
      });
    }
    const sourceBy = new Map(rows.map((r, i) => [keys[i]!, r]));
    const sides = (row: Row) => {
      const k = keyString(row, spec);
      const versions = { [from]: sourceBy.get(k) ?? null, [to]: targetBy.get(k) ?? null };
      return versions as Record<Side, Row | null>;
    };
    await this.write(to, writes[to], sides);
    await this.write(from, writes[from], sides);
    return true;
  }

  /** False when the run was stopped while the page was read: nothing of it is written. */
  async copyMissing(keys: readonly Row[], side: Side): Promise<boolean> {
    const to = other(side);
    const { spec, table, ctx } = this;
    const present = await ctx.databases[to].readByKeys(this.shapes[to], keys, "key");
    const have = new Set(present.map((r) => keyString(r, spec)));
    const lacking = keys.filter((k) => !have.has(keyString(k, spec)));
    if (lacking.length === 0) return true;
    const hashes = lacking.map((k) => keyHash(table.name, keyString(k, spec)));
    const skip = new Set([
      ...await ctx.store.tombstoned(table.name, hashes),
      ...await ctx.store.openConflicts(table.name, hashes),
    ]);
    const wanted = lacking.filter((_, i) => !skip.has(hashes[i]!));
    const rows = await ctx.databases[side].readByKeys(this.shapes[side], wanted);
    if (this.signal.aborted) return false;
    await this.write(
      to,
      rows.map((row) => ({ kind: "upsert", row })),
      (row) => (side === "local" ? { local: row, cloud: null } : { local: null, cloud: row }),
    );
    return true;
  }

  /** One transaction (or, when the target refuses a row, a few) on `target`; then the progress. */
  private async write(
    target: Side,
    ops: WriteOp[],
    sides: (row: Row) => { local: Row | null; cloud: Row | null },
  ): Promise<void> {
    if (ops.length === 0) return;
    const { ctx, table, spec } = this;
    const outcome = await applyIsolating(
      ctx.databases[target],
      this.shapes[target],
      ops,
      markerFor(ctx, target),
      async (op, reason) => {
        const row = op.kind === "upsert" ? op.row : op.key;
        await this.record({
          table: table.name,
          primary_key: keyOf(row, spec),
          key_hash: keyHash(table.name, keyString(row, spec)),
          local_data: sides(row).local,
          cloud_data: sides(row).cloud,
          conflict_type: "apply_error",
          error: `${target} refused the row: ${reason}`,
        });
      },
    );
    this.result.written += outcome.applied;
    // Stored only now that the target has committed.
    await ctx.store.recordProgress(table.name, directionTo(target), { rows: outcome.applied });
  }

  private async record(c: NewConflict): Promise<void> {
    const { record, created } = await this.ctx.store.recordConflict(c);
    if (!created) return;
    this.result.conflicts++;
    this.onConflict(record);
  }
}
