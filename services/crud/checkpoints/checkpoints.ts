/**
 * Making checkpoints (SPEC §10): a request is recorded as `pending` and answered at once; the
 * checkpoint is then written in the background — bus offsets first, then a writer process takes
 * one snapshot of every table and streams it into the file (writer.ts) — with its progress in the
 * metadata, and becomes `ready` (and a `checkpoint.created` event) or `failed`. Retention runs
 * after each one.
 */
import { tableRecord } from "../../../lib/catalog.ts";
import { SyncError } from "../../../lib/errors.ts";
import type { HubEvents } from "../../../lib/events.ts";
import type { Logger } from "../../../lib/log.ts";
import type { BucketTable } from "../../../lib/postgres/bucket_reader.ts";
import type { BusPositions } from "../buckets/position.ts";
import type { Checkpoint, CheckpointStore, Retention } from "./store.ts";
import type { WriteJob } from "./writer.ts";
import { runWriter } from "./writer_process.ts";

export interface CheckpointsDeps {
  /** The database the writer process reads. */
  databaseUrl: string;
  store: CheckpointStore;
  positions: BusPositions;
  events: HubEvents;
  /** `DATA_DIR/checkpoints`. */
  dir: string;
  retention: Retention;
  log: Logger;
  /** Checkpoints written at the same time; more wait their turn. */
  concurrency?: number;
  /** How often a running checkpoint's progress is saved. */
  progressEveryMs?: number;
}

export class Checkpoints {
  private readonly waiting: (() => void)[] = [];
  private active = 0;
  private readonly running = new Set<Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(private readonly deps: CheckpointsDeps) {}

  get store(): CheckpointStore {
    return this.deps.store;
  }

  /** The file of a checkpoint. */
  path(id: string): string {
    return `${this.deps.dir}/${id}.ndjson.gz`;
  }

  /** Records the request and starts the checkpoint; resolves with it, pending. */
  async create(
    bucket: string,
    tables: readonly BucketTable[],
    by: { sub: string; scheduled?: boolean },
  ): Promise<Checkpoint> {
    const checkpoint = await this.deps.store.create({
      id: crypto.randomUUID(),
      bucket,
      tables: tables.map((t) => t.table.qualified),
      createdBy: by.sub,
      scheduled: by.scheduled ?? false,
    });
    const run = this.queued(() => this.write(checkpoint, tables)).finally(() => {
      this.running.delete(run);
    });
    this.running.add(run);
    return checkpoint;
  }

  /** Resolves once every checkpoint started so far is ready or failed. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /** Deletes the checkpoints past the retention, files first. */
  async applyRetention(): Promise<number> {
    const expired = await this.deps.store.expired(this.deps.retention);
    for (const id of expired) {
      await Deno.remove(this.path(id)).catch(() => {});
      await this.deps.store.delete(id);
    }
    if (expired.length > 0) this.deps.log.info("checkpoints expired", { count: expired.length });
    return expired.length;
  }

  /** Stops the running checkpoints (they are marked failed) and waits for them. */
  async close(): Promise<void> {
    this.stopping.abort(new Error("the service is stopping"));
    for (const wake of this.waiting.splice(0)) wake();
    await this.settled();
  }

  private async queued(work: () => Promise<void>): Promise<void> {
    if (this.active >= (this.deps.concurrency ?? 2)) {
      await new Promise<void>((wake) => this.waiting.push(wake));
    }
    this.active++;
    try {
      await work();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  private async write(checkpoint: Checkpoint, tables: readonly BucketTable[]): Promise<void> {
    const { store, positions, log } = this.deps;
    const { id, bucket } = checkpoint;
    const signal = this.stopping.signal;
    try {
      if (signal.aborted) throw signal.reason;
      await Deno.mkdir(this.deps.dir, { recursive: true });
      // Offsets before the snapshot (the writer takes it): see buckets/position.ts for why.
      const offsets = await positions.offsets(tables.map((t) => t.table));
      const job: WriteJob = {
        id,
        bucket,
        tables: tables.map((t) => ({ table: tableRecord(t.table), bucketColumn: t.bucketColumn })),
        path: this.path(id),
        epoch: positions.epoch,
        offsets,
        progressEveryMs: this.deps.progressEveryMs ?? 500,
      };
      await runWriter(
        { databaseUrl: this.deps.databaseUrl, job },
        async (m) => {
          switch (m.type) {
            case "started":
              return await store.started(id, m.created_at, m.cursor);
            case "progress":
              return await store.progress(
                id,
                { rows: m.rows, bytes: m.bytes, ndjsonBytes: m.ndjson_bytes },
                { tables_done: m.tables_done, tables_total: tables.length, table: m.table },
              );
            case "failed":
              log.warn("checkpoint failed", { id, bucket, message: m.message });
              return await store.failed(id, m.message);
            case "done":
              await store.ready(id, { rows: m.rows, bytes: m.bytes, ndjsonBytes: m.ndjson_bytes });
              log.info("checkpoint ready", { id, bucket, rows: m.rows, bytes: m.bytes });
              await this.deps.events.emit("checkpoint.created", {
                checkpoint_id: id,
                bucket,
                rows: m.rows,
              });
          }
        },
        log,
        signal,
      );
      await this.applyRetention().catch((err) => log.warn("retention failed", { err }));
    } catch (err) {
      const message = err instanceof SyncError && err.code !== "internal"
        ? err.message
        : signal.aborted
        ? "interrupted: the service stopped"
        : "the checkpoint could not be written (see the service log)";
      log.warn("checkpoint failed", { id, bucket, err });
      await store.failed(id, message).catch((e) => log.warn("could not mark it failed", { e }));
    }
  }
}
