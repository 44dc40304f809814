/**
 * Which listener captures a source when several run (one active, the others standby): the one
 * holding the source's lease — a PostgreSQL advisory lock in the hub database, held by a session
 * of its own. A listener killed outright loses its session, so the lock frees at once and a
 * standby, polling quietly, takes over from the source's confirmed position.
 */
import pg from "pg";
import type { Logger } from "../../lib/log.ts";
import { sleep } from "../../lib/retry.ts";

export interface HeldLease {
  /** Aborts when the lease is lost (its session ended): stop capturing at once. */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

export interface Lease {
  /**
   * Resolves once this process holds the lease of `name`; while another holds it, waits quietly
   * (`onStandby` is told once per wait). Rejects when `signal` aborts, or when the hub database
   * cannot be reached (the caller retries with back-off).
   */
  acquire(name: string, signal: AbortSignal, onStandby?: () => void): Promise<HeldLease>;
}

/** For a single listener (and tests): always granted, never lost. */
export const soleLease: Lease = {
  acquire: () =>
    Promise.resolve({ lost: new AbortController().signal, release: () => Promise.resolve() }),
};

export class PgLease implements Lease {
  constructor(
    private readonly url: string,
    private readonly log: Logger,
    private readonly pollMs = 1_000,
  ) {}

  async acquire(name: string, signal: AbortSignal, onStandby?: () => void): Promise<HeldLease> {
    const client = new pg.Client({
      connectionString: this.url,
      application_name: "synchub-listener-lease",
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
    });
    const lost = new AbortController();
    client.on("error", (err) => {
      if (!lost.signal.aborted) this.log.warn("lease session failed", { source: name, err });
      lost.abort();
    });
    client.on("end", () => lost.abort());
    try {
      await client.connect();
      let told = false;
      while (!signal.aborted) {
        if (lost.signal.aborted) throw new Error("the lease session ended while waiting");
        const { rows: [r] } = await client.query<{ held: boolean }>(
          "SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS held",
          [`synchub.listener:${name}`],
        );
        if (r?.held) {
          return {
            lost: lost.signal,
            release: async () => {
              lost.abort();
              await client.end().catch(() => {});
            },
          };
        }
        if (!told) onStandby?.();
        told = true;
        await sleep(this.pollMs, signal);
      }
      throw signal.reason ?? new Error("aborted");
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
  }
}
