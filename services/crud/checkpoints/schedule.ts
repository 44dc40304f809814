/**
 * Scheduled checkpoints (`CHECKPOINT_CRON`, SPEC §10): at each tick, a checkpoint of every
 * configured bucket (`CHECKPOINT_BUCKETS`; unset, every bucket that has rows), made as the hub
 * itself — an admin principal, so every table with a bucket column is included — then retention.
 * Ticks never overlap: a tick still running when the next is due makes that one skip.
 */
import { Cron } from "croner";
import { type AccessPolicy, principalOf } from "../../../lib/access.ts";
import type { CatalogSource } from "../../../lib/catalog.ts";
import type { Logger } from "../../../lib/log.ts";
import { type Pool, quoteIdent, quoteQualified } from "../../../lib/postgres/pool.ts";
import { bucketTables } from "../buckets/scope.ts";
import type { Checkpoints } from "./checkpoints.ts";

export interface ScheduleDeps {
  checkpoints: Checkpoints;
  catalog: CatalogSource;
  policy: AccessPolicy;
  pool: Pool;
  log: Logger;
  /** Pending checkpoints not advanced for this long are failed (their writer is gone). */
  staleMs?: number;
}

const HUB = principalOf({ sub: "synchub-scheduler", buckets: [], role: "admin" });

/** One tick: a checkpoint of each bucket, each made in turn. Resolves with their ids. */
export async function scheduledCheckpoints(
  deps: ScheduleDeps,
  buckets: readonly string[] | undefined,
): Promise<string[]> {
  await deps.checkpoints.store.failStale(deps.staleMs ?? 600_000);
  const ids: string[] = [];
  for (const bucket of buckets ?? await bucketsWithRows(deps)) {
    const tables = await bucketTables(deps, HUB, bucket);
    if (tables.length === 0) continue;
    const checkpoint = await deps.checkpoints.create(bucket, tables, {
      sub: HUB.sub,
      scheduled: true,
    });
    ids.push(checkpoint.id);
    await deps.checkpoints.settled(); // one at a time: a schedule is no reason to load the database
  }
  await deps.checkpoints.applyRetention();
  return ids;
}

/** Starts the schedule; returns its stop function. */
export function startSchedule(
  deps: ScheduleDeps,
  cron: string,
  buckets: readonly string[] | undefined,
): () => void {
  const job = new Cron(cron, { protect: true, catch: true }, async () => {
    try {
      const ids = await scheduledCheckpoints(deps, buckets);
      deps.log.info("scheduled checkpoints made", { count: ids.length });
    } catch (err) {
      deps.log.warn("scheduled checkpoints failed", { err });
    }
  });
  deps.log.info("checkpoints scheduled", { cron, next: job.nextRun()?.toISOString() });
  return () => job.stop();
}

/** Every bucket that has rows, in any table with a bucket column. */
async function bucketsWithRows(deps: ScheduleDeps): Promise<string[]> {
  const selects: string[] = [];
  for (const table of (await deps.catalog.get()).tables) {
    const column = deps.policy.rule(table).bucketColumn;
    if (column === null) continue;
    selects.push(
      `SELECT DISTINCT ${quoteIdent(column)}::text AS bucket FROM ${
        quoteQualified(table.schema, table.name)
      } WHERE ${quoteIdent(column)} IS NOT NULL`,
    );
  }
  if (selects.length === 0) return [];
  const { rows } = await deps.pool.query<{ bucket: string }>(
    `SELECT bucket FROM (${selects.join(" UNION ")}) b ORDER BY bucket`,
  );
  return rows.map((r) => r.bucket);
}
