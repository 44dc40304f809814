/**
 * Realtime sync in one direction: the captured side's envelopes, as the bus delivers them, are
 * routed (routing.ts), spread over a worker pool by key (key_pool.ts) and applied to the other
 * side — each worker's batch (up to `batch_size` rows, any number of tables) planned table by
 * table (`planChanges`) and committed in one transaction (`commitPlans`). A change counts as
 * done once the target committed it (or it was dropped); the watermark over those
 * (watermark.ts) is what the capture may confirm and what `sync_state.position` stores. A target that refuses for now is retried with back-off, never skipped; a table whose
 * schema does not match is marked `error` and its changes are skipped until it matches again.
 */
import type { BusRecord } from "../../../lib/bus/bus.ts";
import { type Envelope, pickKey } from "../../../lib/envelope.ts";
import type { Logger } from "../../../lib/log.ts";
import { backoffDelay, classifyFailure, sleep } from "../../../lib/retry.ts";
import type { Side, TableConfig } from "../config.ts";
import { directionTo, other, type SyncContext } from "../context.ts";
import type { Direction } from "../state_store/store.ts";
import { SchemaMismatch } from "../table_shape.ts";
import { planChanges, type SourceChange } from "./apply_changes.ts";
import { type ApplyResult, commitPlans, type TablePlan } from "./commit_plans.ts";
import { KeyPool } from "./key_pool.ts";
import type { RealtimeMetrics } from "./metrics.ts";
import { committedAtUs, routeEnvelope, type RoutingRules } from "./routing.ts";
import type { ShapeCache } from "./shapes.ts";
import type { RealtimePhase } from "./status.ts";
import type { Turns } from "./turns.ts";
import { Watermark } from "./watermark.ts";

export interface DirectionDeps {
  ctx: SyncContext;
  /** The captured side; its changes go to the other. */
  source: Side;
  /** The capture's source name, as envelopes carry it. */
  sourceName: string;
  rules: RoutingRules;
  shapes: ShapeCache;
  /** Shared by both directions: one row's changes from either side never interleave. */
  turns: Turns;
  metrics: RealtimeMetrics;
  log: Logger;
}

interface Item {
  readonly seq: number;
  readonly table: TableConfig;
  readonly change: SourceChange;
  readonly atUs: number;
}

export interface TableStats {
  status: RealtimePhase;
  rows: number;
  lagMs: number | null;
  position: string | null;
  error: string | null;
}

export class DirectionApplier {
  readonly direction: Direction;
  private readonly watermark: Watermark<{ table: string | undefined; position: string }>;
  private readonly pool: KeyPool<Item>;
  private readonly seqOf = new WeakMap<Envelope, number>();
  private readonly stats = new Map<string, TableStats>();
  private readonly positions = new Map<string, string>();
  /** Rows committed since the last flush, per table (rows_synced grows with the positions). */
  private readonly rows = new Map<string, number>();
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly closing = new AbortController();
  private accepting = true;
  /** Changes held (queued or being applied) before the bus is slowed down. */
  private readonly highWater: number;
  private readonly labels: { direction: Direction };

  constructor(private readonly deps: DirectionDeps) {
    this.direction = directionTo(other(deps.source));
    this.labels = { direction: this.direction };
    const { workers, batch_size } = deps.ctx.config.sync;
    this.highWater = Math.max(1_000, 2 * workers * batch_size);
    this.watermark = new Watermark((covered) => {
      for (const { table, position } of covered) {
        if (!table) continue;
        this.positions.set(table, position);
        this.statsOf(table).position = position;
      }
      this.scheduleFlush();
    });
    this.pool = new KeyPool<Item>({
      workers,
      maxBatch: batch_size,
      run: (items, worker) => this.run(items, worker),
      onError: (err) => deps.log.error("realtime worker failed", { err }),
    });
  }

  /** The bus follower: takes this capture's records; resolves when there is room for more. */
  readonly handle = (records: readonly BusRecord[]): Promise<void> | void => {
    if (!this.accepting) return;
    for (const r of records) {
      const e = r.envelope;
      if (!e || e.source.name !== this.deps.sourceName) continue;
      const route = routeEnvelope(e, this.deps.rules);
      const info = { table: route.table?.name, position: e.source.position };
      if (route.kind === "drop") {
        const seq = this.watermark.add(info);
        this.seqOf.set(e, seq);
        this.deps.metrics.changes.inc({ ...this.labels, outcome: route.reason });
        this.watermark.done(seq);
        continue;
      }
      const atUs = committedAtUs(e);
      for (const part of byKey(route.change, e)) {
        const seq = this.watermark.add(info);
        this.seqOf.set(e, seq);
        this.pool.push(`${route.table.name}\u0000${part.key}`, {
          seq,
          table: route.table,
          change: part.change,
          atUs,
        });
      }
    }
    this.deps.metrics.pending.set(this.watermark.pending, this.labels);
    if (this.pool.size >= this.highWater) return this.pool.room(this.highWater);
  };

  /**
   * Resolves once everything up to this envelope is committed on the target (or dropped);
   * rejects when the applier stops first — then nothing from there on may be confirmed.
   */
  committed(e: Envelope): Promise<void> {
    const seq = this.seqOf.get(e);
    if (seq === undefined) return Promise.reject(new Error("realtime sync is stopping"));
    return this.watermark.reached(seq);
  }

  /** Stops taking records (what arrives later is neither applied nor confirmed). */
  pause(): void {
    this.accepting = false;
  }

  /** True once nothing taken is still waiting for its target. */
  idle(): boolean {
    return this.pool.size === 0;
  }

  /** Ends retries and work; what is not committed is not confirmed (the capture replays it). */
  async close(): Promise<void> {
    this.accepting = false;
    this.closing.abort();
    this.pool.stop();
    this.watermark.close(new Error("realtime sync stopped"));
    clearTimeout(this.flushTimer);
    await this.flush();
  }

  tables(): ReadonlyMap<string, TableStats> {
    return this.stats;
  }

  private async run(items: Item[], worker: number): Promise<void> {
    const byTable = new Map<string, Item[]>();
    for (const item of items) {
      const group = byTable.get(item.table.name);
      if (group) group.push(item);
      else byTable.set(item.table.name, [item]);
    }
    // One key lands in the same worker slot both ways (same hash, same count): taking turns
    // per slot keeps the two directions' check-then-write on a row from interleaving.
    await this.deps.turns.run(String(worker), () => this.applyBatch([...byTable.values()]));
  }

  /** The worker's batch: every table's plan, then one commit for all of them. */
  private async applyBatch(groups: Item[][]): Promise<void> {
    const { ctx, shapes, source, log } = this.deps;
    let pending = groups;
    const skipped = new Set<Item[]>();
    for (let attempt = 0; pending.length > 0 && !this.closing.signal.aborted; attempt++) {
      try {
        // Tables plan side by side: their reads of the target go out together.
        const planned = await Promise.all(pending.map(async (group) => {
          const table = group[0]!.table;
          try {
            const changes = group.map((i) => i.change);
            return {
              group,
              plan: await planChanges(ctx, table, source, changes, await shapes.get(table)),
            };
          } catch (err) {
            if (!(err instanceof SchemaMismatch)) throw err;
            await this.skipped(table, group, err);
            skipped.add(group);
            return undefined;
          }
        }));
        const plans = planned.filter((p): p is { group: Item[]; plan: TablePlan } => !!p);
        const { mismatched } = await commitPlans(ctx, plans.map((p) => p.plan), {
          recordProgress: false, // with the positions, every 100 ms (flush)
        });
        for (const { group, plan } of plans) {
          const why = mismatched.get(plan.table.name);
          if (why) await this.skipped(plan.table, group, new SchemaMismatch(why));
          else await this.succeeded(plan.table, group, plan.result);
        }
        return;
      } catch (err) {
        if (this.closing.signal.aborted) return; // not done: the capture replays it
        // Tables found broken meanwhile are done (skipped); the rest is tried again.
        pending = pending.filter((g) => !skipped.has(g));
        const kind = classifyFailure(err);
        const text = err instanceof Error ? err.message : String(err);
        for (const g of pending) {
          const stats = this.statsOf(g[0]!.table.name);
          stats.status = "retrying";
          stats.error = text;
        }
        this.deps.metrics.retries.inc({ ...this.labels, kind });
        const delay = backoffDelay(kind, attempt);
        if (attempt % 10 === 0) {
          log.warn("could not apply changes; retrying (nothing after them is confirmed)", {
            tables: pending.map((g) => g[0]!.table.name),
            direction: this.direction,
            kind,
            attempt,
            retry_in_ms: delay,
            err,
          });
        }
        await sleep(delay, this.closing.signal);
      }
    }
  }

  private async succeeded(table: TableConfig, group: Item[], r: ApplyResult): Promise<void> {
    const stats = this.statsOf(table.name);
    if (stats.status === "error") {
      await this.deps.ctx.store.setTableStatus(table.name, this.direction, "ok");
      this.deps.log.info("table syncs again", { table: table.name, direction: this.direction });
    }
    const nowUs = (performance.timeOrigin + performance.now()) * 1000;
    const labels = { table: table.name, direction: this.direction };
    for (const item of group) {
      this.deps.metrics.lag.observe(Math.max(0, nowUs - item.atUs) / 1e6, labels);
      this.watermark.done(item.seq);
    }
    stats.status = "streaming";
    stats.error = null;
    stats.rows += r.applied;
    if (r.applied > 0) {
      this.rows.set(table.name, (this.rows.get(table.name) ?? 0) + r.applied);
      this.scheduleFlush();
    }
    stats.lagMs = Math.max(0, Math.round((nowUs - group.at(-1)!.atUs) / 1000));
    const count = (outcome: string, n: number) => {
      if (n > 0) this.deps.metrics.changes.inc({ ...this.labels, outcome }, n);
    };
    count("applied", r.applied);
    count("skipped", r.skipped);
    count("conflict", r.conflicts);
    count("parked", r.parked);
    count("rejected", r.rejected);
    this.deps.metrics.pending.set(this.watermark.pending, this.labels);
  }

  private async skipped(table: TableConfig, group: Item[], err: SchemaMismatch): Promise<void> {
    this.deps.shapes.forget(table, err);
    const reason = err.message;
    const stats = this.statsOf(table.name);
    if (stats.status !== "error" || stats.error !== reason) {
      this.deps.log.error("schema mismatch: the table's changes are skipped until it matches", {
        table: table.name,
        direction: this.direction,
        reason,
      });
      await this.deps.ctx.store.setTableStatus(table.name, this.direction, "error", reason)
        .catch((err) => this.deps.log.warn("could not record the table's status", { err }));
    }
    stats.status = "error";
    stats.error = reason;
    this.deps.metrics.changes.inc({ ...this.labels, outcome: "schema_mismatch" }, group.length);
    for (const item of group) this.watermark.done(item.seq);
    this.deps.metrics.pending.set(this.watermark.pending, this.labels);
  }

  private statsOf(table: string): TableStats {
    let s = this.stats.get(table);
    if (!s) {
      this.stats.set(
        table,
        s = {
          status: "streaming",
          rows: 0,
          lagMs: null,
          position: null,
          error: null,
        },
      );
    }
    return s;
  }

  /**
   * Table positions and rows synced reach the state store at most every 100 ms (a crash replays
   * the rest; rows_synced may then miss what the last 100 ms committed).
   */
  private scheduleFlush(): void {
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush();
    }, 100);
  }

  private flush(): Promise<void> {
    const tables = new Set([...this.positions.keys(), ...this.rows.keys()]);
    const batch = [...tables].map((t) => ({
      table: t,
      position: this.positions.get(t),
      rows: this.rows.get(t) ?? 0,
    }));
    this.positions.clear();
    this.rows.clear();
    this.flushing = this.flushing.then(async () => {
      for (const { table, position, rows } of batch) {
        await this.deps.ctx.store.recordProgress(table, this.direction, {
          rows,
          ...(position === undefined ? {} : { position }),
        }).catch((err) => {
          // Kept for the next flush (a position only if no later one came meanwhile).
          this.rows.set(table, (this.rows.get(table) ?? 0) + rows);
          if (position !== undefined && !this.positions.has(table)) {
            this.positions.set(table, position);
          }
          this.deps.log.warn("could not record the table's progress", { table, err });
        });
      }
    });
    return this.flushing;
  }
}

/**
 * The change as the pool sees it: keyed by the source's key columns. An update that changes the
 * key is a delete of the old key and a create of the new one, each on its key's worker.
 */
export function byKey(
  change: SourceChange,
  e: Pick<Envelope, "key">,
): { key: string; change: SourceChange }[] {
  const columns = Object.keys(e.key);
  const { before, after } = change;
  if (
    change.op === "u" && before && after &&
    columns.some((c) =>
      Object.hasOwn(before, c) && JSON.stringify(before[c]) !== JSON.stringify(after[c])
    )
  ) {
    const oldKey = pickKey(before, columns);
    return [
      {
        key: JSON.stringify(oldKey),
        change: { op: "d", before, after: null, tsMs: change.tsMs, key: oldKey },
      },
      {
        key: JSON.stringify(e.key),
        change: { op: "c", before: null, after, tsMs: change.tsMs, key: e.key },
      },
    ];
  }
  return [{ key: JSON.stringify(e.key), change }];
}
