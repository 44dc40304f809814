import type { PositionStore } from "../../lib/postgres/positions.ts";

/** Positions in memory: the stored-position contract without a database (PgPositionStore has its own test). */
export class MemoryPositionStore implements PositionStore {
  readonly saved = new Map<string, string>();
  load(source: string) {
    return Promise.resolve(this.saved.get(source) ?? null);
  }
  save(source: string, position: string) {
    this.saved.set(source, position);
    return Promise.resolve();
  }
  clear(source: string) {
    this.saved.delete(source);
    return Promise.resolve();
  }
}
