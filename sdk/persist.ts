/**
 * Writes to storage in groups. `commit` is for what must be durable before a promise resolves
 * (queued writes); `stage` for state that can be fetched again (rows, cursors), written within
 * a moment. Both go out in order, in as few storage writes as possible, so rows and the cursor
 * that follows them always land together.
 */
import type { StorageWrite, SyncStorage } from "./storage/storage.ts";

const STAGE_DELAY_MS = 25;

export class Persister {
  private staged: StorageWrite[] = [];
  private waiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  private running: Promise<void> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly storage: SyncStorage,
    private readonly onError: (err: unknown) => void,
  ) {}

  stage(writes: readonly StorageWrite[]): void {
    if (writes.length === 0) return;
    this.staged.push(...writes);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, STAGE_DELAY_MS);
  }

  commit(writes: readonly StorageWrite[]): Promise<void> {
    this.staged.push(...writes);
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.kick();
    return done;
  }

  /** Resolves once everything staged so far is written. */
  async drain(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.kick();
    await this.running;
  }

  private kick(): void {
    if (this.running || this.staged.length === 0) return;
    this.running = this.loop().finally(() => {
      this.running = undefined;
      this.kick(); // staged while the last write was finishing
    });
  }

  private async loop(): Promise<void> {
    while (this.staged.length > 0) {
      const writes = this.staged;
      const waiters = this.waiters;
      this.staged = [];
      this.waiters = [];
      try {
        await this.storage.write(writes);
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
        if (waiters.length === 0) this.onError(err);
      }
    }
  }
}
