/**
 * Where the answers to `Idempotency-Key` requests are kept: one row per token subject and key in
 * the hub database. A request first claims its key; the claim's owner runs the write and stores
 * its answer; everyone else with that key replays the answer or waits for it.
 */
import { fromPgError } from "../../lib/postgres/errors.ts";
import type { Pool } from "../../lib/postgres/pool.ts";

export interface StoredAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type Claim =
  | { state: "claimed" }
  | { state: "answered"; fingerprint: string; answer: StoredAnswer }
  | { state: "pending"; fingerprint: string };

export interface IdempotencyOptions {
  /** How long answers are kept; a key may be reused after that. */
  retentionMs: number;
  /**
   * A claim older than this whose owner never answered (its process died mid-request) may be
   * taken over by a retry.
   */
  abandonedAfterMs: number;
}

export const DEFAULT_IDEMPOTENCY: IdempotencyOptions = {
  retentionMs: 24 * 3_600_000,
  abandonedAfterMs: 60_000,
};

export class IdempotencyStore {
  private lastPrune = 0;

  constructor(
    private readonly pool: Pool,
    readonly options: IdempotencyOptions = DEFAULT_IDEMPOTENCY,
  ) {}

  async claim(subject: string, key: string, fingerprint: string): Promise<Claim> {
    this.pruneNowAndThen();
    const claimed = await this.query(
      `INSERT INTO synchub.idempotency_keys (subject, key, fingerprint) VALUES ($1, $2, $3)
       ON CONFLICT (subject, key) DO NOTHING RETURNING 1`,
      [subject, key, fingerprint],
    );
    if (claimed.length === 1) return { state: "claimed" };
    const [row] = await this.query<{
      fingerprint: string;
      status: number | null;
      headers: Record<string, string> | null;
      body: string | null;
      abandoned: boolean;
    }>(
      `SELECT fingerprint, status, headers, body,
              claimed_at < now() - make_interval(secs => $3) AS abandoned
         FROM synchub.idempotency_keys WHERE subject = $1 AND key = $2`,
      [subject, key, this.options.abandonedAfterMs / 1000],
    );
    if (!row) return await this.claim(subject, key, fingerprint); // pruned or released meanwhile
    if (row.status !== null) {
      return {
        state: "answered",
        fingerprint: row.fingerprint,
        answer: { status: row.status, headers: row.headers ?? {}, body: row.body ?? "" },
      };
    }
    if (row.abandoned && row.fingerprint === fingerprint) {
      const taken = await this.query(
        `UPDATE synchub.idempotency_keys SET claimed_at = now()
          WHERE subject = $1 AND key = $2 AND status IS NULL
            AND claimed_at < now() - make_interval(secs => $3) RETURNING 1`,
        [subject, key, this.options.abandonedAfterMs / 1000],
      );
      if (taken.length === 1) return { state: "claimed" };
    }
    return { state: "pending", fingerprint: row.fingerprint };
  }

  async complete(subject: string, key: string, answer: StoredAnswer): Promise<void> {
    await this.query(
      `UPDATE synchub.idempotency_keys SET status = $3, headers = $4, body = $5
        WHERE subject = $1 AND key = $2`,
      [subject, key, answer.status, JSON.stringify(answer.headers), answer.body],
    );
  }

  /** Gives a claim up: the request did not run to an answer worth repeating (5xx, 429). */
  async release(subject: string, key: string): Promise<void> {
    await this.query(
      "DELETE FROM synchub.idempotency_keys WHERE subject = $1 AND key = $2 AND status IS NULL",
      [subject, key],
    );
  }

  /** Deletes answers past the retention, a bounded number per call. */
  async prune(): Promise<number> {
    const rows = await this.query(
      `DELETE FROM synchub.idempotency_keys WHERE ctid IN (
         SELECT ctid FROM synchub.idempotency_keys
          WHERE created_at < now() - make_interval(secs => $1) LIMIT 5000) RETURNING 1`,
      [this.options.retentionMs / 1000],
    );
    return rows.length;
  }

  /** At most once a minute, in the background: retention without a timer to stop. */
  private pruneNowAndThen(): void {
    const now = Date.now();
    if (now - this.lastPrune < 60_000) return;
    this.lastPrune = now;
    this.prune().catch(() => {/* the next one will try again */});
  }

  private async query<T = unknown>(text: string, params: unknown[]): Promise<T[]> {
    try {
      return (await this.pool.query(text, params)).rows as T[];
    } catch (err) {
      throw fromPgError(err);
    }
  }
}
