/**
 * `--only=stages`: one figure per stage of the pipeline, each timed in this process on its own,
 * so a regression shows where it happens. Real PostgreSQL WAL bytes are captured once; every stage
 * then runs our code on them in a loop: decode (here), publish and consume (stages_bus.ts),
 * fan-out (stages_fanout.ts). Each figure is the median of its timed rounds (after a warm-up
 * round): `ops_per_s` from the wall clock, `cpu_us_per_change` from `process.cpuUsage()` around
 * the same loop (this process only: a Kafka broker's CPU is not in it).
 *
 * This process runs without the services' V8 flags (`--max-semi-space-size=4`), so its garbage
 * collection is not quite theirs.
 */
import pg from "pg";
import { PgoutputPlugin } from "pg-logical-replication";
import type { BusMessage } from "../lib/bus/bus.ts";
import { messageFor } from "../lib/bus/bus.ts";
import { loadCatalog } from "../lib/postgres/catalog.ts";
import type { TableInfo } from "../lib/catalog.ts";
import { columnNamed } from "../lib/access.ts";
import { nowUs } from "../lib/envelope.ts";
import { fitEnvelope } from "../lib/oversize.ts";
import { catalogTableTopic } from "../lib/topics.ts";
import {
  type EnvelopeContext,
  toEnvelopes,
  TransactionDecoder,
} from "../services/listener/postgres/decode.ts";
import { takeIds } from "./phases.ts";
import type { Figure } from "./stats.ts";
import { medianOf, timed } from "./stages_timing.ts";
import { busStages } from "./stages_bus.ts";
import { fanoutStage } from "./stages_fanout.ts";

export interface StagesOptions {
  dbUrl: string;
  transport: "memory" | "kafka";
  /** Kafka only: the bench's broker. */
  brokers?: string;
  /** Changes per round (default 50,000; BENCH_STAGES_CHANGES). */
  changes: number;
  /** Timed rounds of the in-process stages (after one warm-up round). */
  rounds: number;
  /** Measure `stage_decode` too (it does not depend on the bus: once per run is enough). */
  decode: boolean;
}

/** The source name and publication the hub uses (lib/config.ts defaults). */
const SOURCE = "pg";
const PUBLICATION = "synchub";
/** The listener's largest whole envelope (lib/config.ts default, 1 MiB). */
const MAX_ENVELOPE_BYTES = 1024 * 1024;

export async function stageBenches(opts: StagesOptions): Promise<Figure[]> {
  const { wal, table } = await captureWal(opts.dbUrl, opts.changes);
  const prefix = `stages${Date.now()}`;
  const topic = catalogTableTopic(prefix, table);
  const figures: Figure[] = [];
  const transport = opts.transport;
  if (opts.decode) {
    figures.push({
      bench: "stage_decode",
      transport: "none",
      changes: opts.changes,
      wal_messages: wal.length,
      ...await medianOf(opts.rounds, () =>
        timed(opts.changes, () => {
          const n = decodeWal(wal, prefix, () => {});
          if (n !== opts.changes) {
            throw new Error(`decoded ${n} changes, expected ${opts.changes}`);
          }
        })),
    });
  }
  const batches = () => {
    const out: BusMessage[][] = [];
    decodeWal(wal, prefix, (b) => out.push(b));
    return out;
  };
  figures.push(...await busStages({ ...opts, prefix, topic, batches }));
  for (const subscriptions of [1, 100]) {
    // 100 connections get each change: fewer changes keep a round to about a second.
    const changes = subscriptions === 1 ? opts.changes : Math.ceil(opts.changes / 10);
    figures.push(
      await fanoutStage({
        transport,
        table,
        topic,
        subscriptions,
        changes,
        rounds: opts.rounds,
        batches: () => batches().flat().slice(0, changes),
      }),
    );
  }
  return figures;
}

/**
 * The listener's work from pgoutput bytes to bus messages, as WalSource and runPipeline do it:
 * the library's pgoutput parser, TransactionDecoder (500-change parts), toEnvelopes
 * (makeEnvelope), then messageFor (topic, key JSON, envelopeJson) and the oversize check. Left
 * out: the replication protocol's framing (CopyData, XLogData headers, keepalives), the queue
 * between socket and pipeline, and the primary-key lookup (cached per relation there). Returns
 * the number of changes; `sink` gets each part's messages, a batch as the listener publishes it.
 */
export function decodeWal(
  wal: readonly Uint8Array[],
  prefix: string,
  sink: (batch: BusMessage[]) => void,
): number {
  const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [PUBLICATION] });
  const decoder = new TransactionDecoder(500);
  const ctx: EnvelopeContext = {
    sourceName: SOURCE,
    db: "bench",
    bucketColumn: () => "bucket",
    keyColumns: (r) => r.keyColumns,
    now: nowUs,
  };
  let changes = 0;
  for (const bytes of wal) {
    const part = decoder.push(plugin.parse(bytes as Parameters<PgoutputPlugin["parse"]>[0]));
    if (!part) continue;
    const batch = toEnvelopes(part, ctx).map((e) => {
      const m = messageFor(prefix, e);
      const fit = fitEnvelope(e, m.value!, MAX_ENVELOPE_BYTES);
      return fit.oversize ? { ...m, value: fit.json, envelope: fit.envelope } : m;
    });
    changes += batch.length;
    sink(batch);
  }
  return changes;
}

/**
 * `changes` inserts into bench_events (1,000-row transactions, as the throughput bench writes
 * them), read back as pgoutput bytes through a slot of our own with the SQL interface — the same
 * messages the replication protocol carries — and kept in memory; plus the table's catalog entry.
 */
async function captureWal(
  dbUrl: string,
  changes: number,
): Promise<{ wal: Uint8Array[]; table: TableInfo }> {
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  const slot = `bench_stages_${Date.now()}`;
  try {
    await c.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    const first = takeIds(changes);
    for (let done = 0; done < changes; done += 1000) {
      const from = first + done;
      await c.query(
        "INSERT INTO bench_events (id, bucket, payload) SELECT g, 'bench', 'payload-' || g FROM generate_series($1::bigint, $2::bigint) g",
        [from, from + Math.min(1000, changes - done) - 1],
      );
    }
    const { rows } = await c.query<{ data: Uint8Array }>(
      "SELECT data FROM pg_logical_slot_get_binary_changes($1, NULL, NULL, 'proto_version', '1', 'publication_names', $2)",
      [slot, PUBLICATION],
    );
    const catalog = await loadCatalog(c, PUBLICATION, columnNamed("bucket"), undefined, SOURCE);
    const table = catalog.get("public.bench_events");
    if (!table) throw new Error("bench_events is not in the publication");
    return { wal: rows.map((r) => r.data), table };
  } finally {
    await c.query("SELECT pg_drop_replication_slot($1)", [slot]).catch(() => {});
    await c.end();
  }
}
