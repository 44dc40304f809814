/**
 * Both sides' shapes of each synced table, described once and kept: the realtime applier needs
 * them for every batch. A table that did not describe (missing on a side) is described again
 * only after `recheckMs`, so a broken table costs one query now and then, not one per change;
 * good shapes are described again after `maxAgeMs`, so a column added later is picked up.
 */
import type { Side, TableConfig } from "../config.ts";
import type { SyncContext } from "../context.ts";
import { SchemaMismatch, type TableShape } from "../table_shape.ts";

export type Shapes = Record<Side, TableShape>;

export class ShapeCache {
  private readonly known = new Map<string, { shapes: Shapes; until: number }>();
  private readonly broken = new Map<string, { error: SchemaMismatch; until: number }>();

  constructor(
    private readonly ctx: SyncContext,
    private readonly recheckMs = 10_000,
    private readonly maxAgeMs = 60_000,
  ) {}

  /** Throws SchemaMismatch (kept for `recheckMs`), or the database's error when it is down. */
  async get(table: TableConfig): Promise<Shapes> {
    const known = this.known.get(table.name);
    if (known && Date.now() < known.until) return known.shapes;
    const broken = this.broken.get(table.name);
    if (broken && Date.now() < broken.until) throw broken.error;
    try {
      const [local, cloud] = await Promise.all([
        this.ctx.databases.local.describe(table),
        this.ctx.databases.cloud.describe(table),
      ]);
      const fresh = { local, cloud };
      this.known.set(table.name, { shapes: fresh, until: Date.now() + this.maxAgeMs });
      this.broken.delete(table.name);
      return fresh;
    } catch (err) {
      if (err instanceof SchemaMismatch) {
        this.broken.set(table.name, { error: err, until: Date.now() + this.recheckMs });
      }
      throw err;
    }
  }

  /** The table changed (a write met a missing column): describe it again, after `recheckMs`. */
  forget(table: TableConfig, error: SchemaMismatch): void {
    this.known.delete(table.name);
    this.broken.set(table.name, { error, until: Date.now() + this.recheckMs });
  }
}
