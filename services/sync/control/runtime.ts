/**
 * What the sync service works with right now — the configuration (and the YAML document it came
 * from), both databases once they are open, the state store — in one place that
 * `PUT /api/v1/config` can swap whole. A batch run takes its context once, at its start; a swap
 * is refused while a run is in progress, so nothing changes under a run.
 */
import type { Document } from "yaml";
import { SyncError } from "../../../lib/errors.ts";
import type { Logger } from "../../../lib/log.ts";
import type { Side, SyncConfig } from "../config.ts";
import type { SyncContext } from "../context.ts";
import type { SyncDatabase } from "../engine/database.ts";
import type { StateStore } from "../state_store/store.ts";

/** Where the configuration came from, for writing it back. */
export interface ConfigSource {
  readonly path: string;
  readonly document: Document;
}

export interface RuntimeParts {
  config: SyncConfig;
  source: ConfigSource | undefined;
  store: StateStore;
  databases: Readonly<Record<Side, SyncDatabase>> | undefined;
}

export class SyncRuntime {
  #parts: RuntimeParts;
  readonly #listeners = new Set<(ctx: SyncContext) => void>();

  constructor(parts: RuntimeParts, readonly log: Logger) {
    this.#parts = parts;
  }

  get config(): SyncConfig {
    return this.#parts.config;
  }
  get source(): ConfigSource | undefined {
    return this.#parts.source;
  }
  get store(): StateStore {
    return this.#parts.store;
  }
  get databases(): Readonly<Record<Side, SyncDatabase>> | undefined {
    return this.#parts.databases;
  }

  /** The engine's context; 503 `unavailable` while the databases are not open yet. */
  context(): SyncContext {
    const { config, databases, store } = this.#parts;
    if (!databases) {
      throw new SyncError("unavailable", "the databases are not connected yet; see /ready");
    }
    return { config, databases, store, log: this.log };
  }

  /** Both databases are open (the start-up connection loop is done). */
  attach(databases: Record<Side, SyncDatabase>): void {
    this.#parts = { ...this.#parts, databases };
    this.#announce();
  }

  /** Swaps in new parts; returns the ones replaced, for the caller to close. */
  replace(next: RuntimeParts): { databases: SyncDatabase[]; store: StateStore | undefined } {
    const old = this.#parts;
    this.#parts = next;
    const retired = (Object.values(old.databases ?? {}) as SyncDatabase[]).filter((db) =>
      !Object.values(next.databases ?? {}).includes(db)
    );
    this.#announce();
    return { databases: retired, store: old.store === next.store ? undefined : old.store };
  }

  /** Told of every new context (databases attached, configuration applied): for realtime. */
  onContext(listener: (ctx: SyncContext) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #announce(): void {
    if (!this.#parts.databases) return;
    const ctx = this.context();
    for (const l of this.#listeners) l(ctx);
  }
}
