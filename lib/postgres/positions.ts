/**
 * Where sources whose database cannot hold a position for us (MySQL binlog coordinates, MongoDB
 * resume tokens) keep it: `synchub.source_positions` in the hub's PostgreSQL. A source writes
 * here only what the bus has confirmed.
 */
import type { Pool } from "./pool.ts";

export interface PositionStore {
  load(source: string): Promise<string | null>;
  save(source: string, position: string): Promise<void>;
  /** Forgets a position, so the source starts afresh (a new snapshot). */
  clear(source: string): Promise<void>;
}

export class PgPositionStore implements PositionStore {
  constructor(private readonly pool: Pool) {}

  async load(source: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ position: string }>(
      "SELECT position FROM synchub.source_positions WHERE source = $1",
      [source],
    );
    return rows[0]?.position ?? null;
  }

  async save(source: string, position: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO synchub.source_positions (source, position, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (source) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`,
      [source, position],
    );
  }

  async clear(source: string): Promise<void> {
    await this.pool.query("DELETE FROM synchub.source_positions WHERE source = $1", [source]);
  }
}

/**
 * Saves the latest confirmed position at most every `everyMs` (confirmations come per
 * transaction); `flush` writes what is pending, as a stream ends.
 */
export class ThrottledSaver {
  private pending: string | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: PositionStore,
    private readonly source: string,
    private readonly onError: (err: unknown) => void,
    private readonly everyMs = 100,
  ) {}

  save(position: string): void {
    this.pending = position;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.everyMs);
  }

  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const position = this.pending;
    this.pending = undefined;
    if (position !== undefined) {
      this.writing = this.writing.then(() => this.store.save(this.source, position)).catch(
        this.onError,
      );
    }
    return this.writing;
  }
}
