/**
 * Sync figures: the sync service (`deno task sync`, its own process, as a user runs it) between
 * two private MariaDB servers. `sync_initial`: a first start copies 100,000 rows into an empty
 * table; `sync_compare`: a first start over tables already equal (chunk and row hashes only,
 * nothing written). Time is the run's own (sync_history started_at → completed_at); memory the
 * service's peak RSS (VmHWM).
 */
import mysql from "mysql2/promise";
import { freePort, stopChild } from "../tools/servers/process.ts";
import { createLogger } from "../lib/log.ts";
import { mariaDbInstalled, startMariaDb } from "../tools/servers/mariadb.ts";
import { round } from "./stats.ts";
import { mysqlBenchDb, pgBenchDb, prepareTables, realtimeRun } from "./sync_realtime.ts";

const ROOT = new URL("..", import.meta.url).pathname;
/** As `deno task sync` runs the service (deno.json). */
const V8_FLAGS =
  (Deno.env.get("SYNC_V8_FLAGS") ?? "--v8-flags=--max-semi-space-size=4,--max-old-space-size=160")
    .split(" ")
    .filter(Boolean);

export async function syncBenches(
  dir: string,
  opts: {
    rows: number;
    /** Realtime: changes a second on local, for how long. */
    rate: number;
    seconds: number;
    /** A new database on the bench's PostgreSQL, by name: its URL (PostgreSQL → PostgreSQL). */
    postgresDatabase?: (name: string) => Promise<string>;
  },
) {
  if (!await mariaDbInstalled()) {
    console.error(
      "\n!! MariaDB is not installed (apt-get install mariadb-server): no sync figures\n",
    );
    return [];
  }
  const servers = await Promise.all(["a", "b"].map((n) =>
    startMariaDb({
      dataDir: `${dir}/sync-mariadb-${n}`,
      port: freePort(),
      log: createLogger(`bench-mariadb-${n}`, "warn"),
    })
  ));
  const pools = servers.map((s) =>
    mysql.createPool({ host: "127.0.0.1", port: s.port, user: "root", multipleStatements: true })
  );
  const [local, cloud] = pools as [mysql.Pool, mysql.Pool];
  try {
    const ddl = `CREATE DATABASE app CHARACTER SET utf8mb4;
      CREATE TABLE app.items (id INT PRIMARY KEY, title VARCHAR(100) NOT NULL, price DECIMAL(10,2),
        done TINYINT(1) NOT NULL, note TEXT, updated_at DATETIME(6) NOT NULL)`;
    await local.query(ddl);
    await cloud.query(ddl);
    await local.query(
      `INSERT INTO app.items SELECT seq, CONCAT('item number ', seq), seq * 0.25, seq % 2,
         REPEAT('x', 40), '2024-01-01 00:00:00' FROM app.seq_1_to_${opts.rows}`,
    );
    const url = (s: { port: number }) => `mysql://root@127.0.0.1:${s.port}/app`;
    const config = `databases:
  local: { url: "${url(servers[0]!)}" }
  cloud: { url: "${url(servers[1]!)}" }
sync:
  mode: local_to_cloud
  batch_size: 1000
  tables:
    - { name: items, timestamp_column: updated_at }
`;
    await Deno.writeTextFile(`${dir}/sync.yaml`, config);
    const figures = [];
    for (const bench of ["sync_initial", "sync_compare"]) {
      console.error(`${bench}: ${opts.rows} rows MariaDB → MariaDB`);
      const r = await firstStart(dir, `${dir}/${bench}`);
      const [count] = await cloud.query("SELECT COUNT(*) AS n FROM app.items") as unknown as [
        { n: number }[],
      ];
      figures.push({
        bench,
        transport: "none",
        rows: opts.rows,
        written: r.written,
        complete: Number(count[0]?.n) === opts.rows,
        seconds: round(r.seconds, 3),
        rows_per_s: round(opts.rows / r.seconds, 0),
        peak_rss_mb: Math.round(r.peakRssMb),
      });
    }
    figures.push(...await realtimeFigures(dir, servers.map((s) => url(s)), opts));
    return figures;
  } finally {
    await Promise.all(pools.map((p) => p.end()));
    await Promise.all(servers.map((s) => s.stop()));
  }
}

/** Starts the service with an empty state store, waits for its first run, stops it. */
async function firstStart(dir: string, dataDir: string) {
  const { RUST_BACKTRACE: _, ...parent } = Deno.env.toObject();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...V8_FLAGS, `${ROOT}services/sync/main.ts`],
    cwd: ROOT,
    clearEnv: true,
    env: {
      ...parent,
      SYNC_CONFIG: `${dir}/sync.yaml`,
      SYNC_PORT: String(freePort()),
      DATA_DIR: dataDir,
      LOG_LEVEL: "info",
    },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    const lines = child.stderr.pipeThrough(new TextDecoderStream()).values();
    let buffer = "";
    for await (const text of lines) {
      buffer += text;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const entry = parse(line);
        if (entry?.msg === "batch run ended") {
          const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
          const peakRssMb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]) / 1024;
          return {
            seconds: Number(entry.elapsed_ms) / 1000,
            written: Number(entry.total_rows),
            peakRssMb,
          };
        }
        if (entry?.level === "error") throw new Error(`sync service: ${line}`);
      }
    }
    throw new Error("the sync service ended before its first run did");
  } finally {
    await stopChild(child, "SIGTERM", 15_000);
  }
}

function parse(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/** Realtime change → applied, MariaDB → MariaDB and (given a PostgreSQL) PostgreSQL → PostgreSQL. */
async function realtimeFigures(
  dir: string,
  mariadb: string[],
  opts: Parameters<typeof syncBenches>[1],
) {
  const runs: { engine: "mysql" | "postgres"; urls: () => Promise<string[]> }[] = [{
    engine: "mysql",
    urls: async () => {
      const out = [];
      for (const server of mariadb) {
        const u = new URL(server);
        const admin = await mysql.createConnection({
          host: u.hostname,
          port: Number(u.port),
          user: "root",
        });
        await admin.query("CREATE DATABASE rt CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
        await admin.end();
        u.pathname = "/rt";
        out.push(u.toString());
      }
      return out;
    },
  }];
  const makePg = opts.postgresDatabase;
  if (makePg) {
    runs.push({
      engine: "postgres",
      urls: async () => [await makePg("rt_local"), await makePg("rt_cloud")],
    });
  }
  const figures = [];
  for (const run of runs) {
    const name = run.engine === "mysql" ? "MariaDB → MariaDB" : "PostgreSQL → PostgreSQL";
    console.error(
      `sync_realtime: ${opts.rate} changes/s for ${opts.seconds} s, 24 tables, ${name}`,
    );
    const [localUrl, cloudUrl] = await run.urls();
    const make = run.engine === "mysql" ? mysqlBenchDb : pgBenchDb;
    const local = make(localUrl!, 4);
    const cloud = make(cloudUrl!, 4);
    try {
      await prepareTables(run.engine, local, cloud);
      const runDir = `${dir}/sync_realtime_${run.engine}`;
      await Deno.mkdir(runDir, { recursive: true });
      const f = await realtimeRun(run.engine, local, cloud, {
        dir: runDir,
        rate: opts.rate,
        seconds: opts.seconds,
      });
      figures.push({
        bench: "sync_realtime",
        transport: "memory",
        engine: run.engine === "mysql" ? "mariadb" : "postgres",
        tables: 24,
        ...f,
      });
    } finally {
      await Promise.all([local.close(), cloud.close()]);
    }
  }
  return figures;
}
