/**
 * Draining a backlog into Kafka: the listener is stopped, `rows` rows are written, and the
 * listener is started again; timed until Kafka holds every change. The ceiling is
 * `pg_recvlogical` reading the same WAL from a slot created where the listener stopped.
 */
import pg from "pg";
import { Kafka, logLevel } from "kafkajs";
import "../lib/kafka/quiet_warnings.ts";
import { now } from "./client.ts";
import type { RunningHub } from "./hub.ts";
import { type PhaseContext, recvlogicalRate, takeIds } from "./phases.ts";
import { round } from "./stats.ts";

export interface BacklogContext extends PhaseContext {
  hub: RunningHub;
  brokers: string;
  /** The topic the listener writes bench_events to. */
  topic: string;
}

/** `profile` starts a CPU profile once the new listener runs (bench/profile.ts); returns its stop. */
export async function kafkaBacklog(
  ctx: BacklogContext,
  rows: number,
  profile?: () => Promise<(() => Promise<void>) | undefined>,
) {
  const listener = ctx.hub.processes.find((p) => p.name === "listener");
  if (!listener || !ctx.hub.respawn) throw new Error("the backlog bench needs the Kafka hub");
  const admin = new Kafka({
    clientId: "bench-backlog",
    brokers: [ctx.brokers],
    logLevel: logLevel.NOTHING,
  })
    .admin();
  const db = new pg.Client({ connectionString: ctx.dbUrl });
  const slot = "bench_backlog_ceiling";
  await Promise.all([admin.connect(), db.connect()]);
  const held = async () =>
    (await admin.fetchTopicOffsets(ctx.topic)).reduce((sum, o) => sum + Number(o.high), 0);
  try {
    await listener.stop(); // SIGTERM: confirms everything it published
    await db.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    const before = await held();
    const first = takeIds(rows);
    for (let done = 0; done < rows; done += 1000) {
      const n = Math.min(1000, rows - done);
      await db.query(
        "INSERT INTO bench_events (id, bucket, payload) SELECT g, 'bench', 'payload-' || g FROM generate_series($1::bigint, $2::bigint) g",
        [first + done, first + done + n - 1],
      );
    }
    const { rows: [end] } = await db.query("SELECT pg_current_wal_lsn()::text AS lsn");

    const spawned = now();
    ctx.hub.respawn("listener");
    const stopProfile = await profile?.();
    let firstSeen: number | undefined;
    let count = 0;
    for (const deadline = spawned + 300_000; now() < deadline;) {
      count = (await held()) - before;
      if (count > 0) firstSeen ??= now();
      if (count >= rows) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const done = now();
    await stopProfile?.();
    const ceiling = await recvlogicalRate(ctx.dbUrl, slot, end.lsn, rows);
    // From the first change on Kafka to the last: the listener's start-up is reported apart.
    const rate = count / ((done - (firstSeen ?? spawned)) / 1000);
    return {
      rows,
      on_kafka: count,
      startup_s: round(((firstSeen ?? done) - spawned) / 1000),
      drain_s: round((done - (firstSeen ?? spawned)) / 1000),
      rows_per_s: round(rate, 0),
      ceiling_per_s: ceiling === undefined ? "n/a" : round(ceiling, 0),
      ratio: ceiling === undefined ? "n/a" : round(rate / ceiling, 3),
    };
  } finally {
    await db.query("SELECT pg_drop_replication_slot($1)", [slot]).catch(() => {});
    await Promise.all([admin.disconnect(), db.end()]);
  }
}
