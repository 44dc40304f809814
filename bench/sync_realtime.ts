/**
 * Realtime sync figures: the sync service (its own process, as `deno task sync` runs it) in
 * bidirectional mode over 24 tables, while single-row inserts and updates arrive on `local` at a
 * steady rate. Latency is per row, change → applied on the other side: the source row carries
 * its write time (`written_at`, set by the source server), a trigger on the target stamps
 * `applied_at` as the sync's write reaches it (both servers share this machine's clock; the
 * target's commit, well under a millisecond here, is not in it). The first 2 s of load warm the
 * service up (JIT, connection pools) and are left out. Memory: the service's peak RSS.
 */
import { DatabaseSync } from "node:sqlite";
import mysql from "mysql2/promise";
import pg from "pg";
import { sleep } from "../lib/retry.ts";
import { freePort, stopChild } from "../tools/servers/process.ts";
import { round, summarize } from "./stats.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const V8_FLAGS =
  (Deno.env.get("SYNC_V8_FLAGS") ?? "--v8-flags=--max-semi-space-size=4,--max-old-space-size=160")
    .split(" ")
    .filter(Boolean);
/** Rows of the warm-up phase have ids from here on (left out of the figures). */
const WARM_UP = 900_000_000;
const WARM_UP_SECONDS = 2;
export const TABLES = Array.from({ length: 24 }, (_, i) => `rt${String(i).padStart(2, "0")}`);

/** What the bench needs of a database: statements, and the lag of every row of a table. */
export interface BenchDb {
  readonly url: string;
  exec(sql: string, params?: unknown[]): Promise<void>;
  /** ms between written_at and applied_at, one per row with an id below `below`. */
  lags(table: string, below: number): Promise<number[]>;
  /** `count:sum(n)` of a table, to tell when the target has caught up. */
  fingerprint(table: string): Promise<string>;
  close(): Promise<void>;
}

export function mysqlBenchDb(url: string, connections: number): BenchDb {
  const u = new URL(url);
  const pool = mysql.createPool({
    host: u.hostname,
    port: Number(u.port),
    user: decodeURIComponent(u.username),
    database: u.pathname.slice(1),
    connectionLimit: connections,
    multipleStatements: true,
  });
  return {
    url,
    exec: async (sql, params) => void await pool.query(sql, params),
    lags: async (t, below) => {
      const [rows] = await pool.query(
        `SELECT TIMESTAMPDIFF(MICROSECOND, written_at, applied_at) AS us FROM ${t} WHERE id < ?`,
        [below],
      ) as unknown as [{ us: number }[]];
      return rows.map((r) => Number(r.us) / 1000);
    },
    fingerprint: async (t) => {
      const [rows] = await pool.query(`SELECT COUNT(*) AS c, SUM(n) AS s FROM ${t}`) as unknown as [
        { c: number; s: number }[],
      ];
      return `${rows[0]?.c}:${rows[0]?.s}`;
    },
    close: () => pool.end(),
  };
}

export function pgBenchDb(url: string, connections: number): BenchDb {
  const pool = new pg.Pool({ connectionString: url, max: connections });
  return {
    url,
    exec: async (sql, params) => void await pool.query(sql, params),
    lags: async (t, below) =>
      (await pool.query<{ ms: number }>(
        `SELECT EXTRACT(EPOCH FROM applied_at - written_at)::float8 * 1000 AS ms FROM ${t}
          WHERE id < $1`,
        [below],
      )).rows.map((r) => r.ms),
    fingerprint: async (t) => {
      const { rows } = await pool.query(`SELECT COUNT(*) AS c, SUM(n) AS s FROM ${t}`);
      return `${rows[0]?.c}:${rows[0]?.s}`;
    },
    close: () => pool.end(),
  };
}

/** Tables on both sides; the target's trigger stamps applied_at. */
export async function prepareTables(engine: "mysql" | "postgres", local: BenchDb, cloud: BenchDb) {
  for (const db of [local, cloud]) {
    if (engine === "postgres") {
      await db.exec(`CREATE OR REPLACE FUNCTION stamp_applied() RETURNS trigger AS $$
        BEGIN NEW.applied_at := clock_timestamp(); RETURN NEW; END $$ LANGUAGE plpgsql`);
    }
    for (const t of TABLES) {
      if (engine === "mysql") {
        await db.exec(`CREATE TABLE ${t} (id BIGINT PRIMARY KEY, v VARCHAR(64) NOT NULL,
          n INT NOT NULL, written_at DATETIME(6) NOT NULL, applied_at DATETIME(6) NULL)`);
      } else {
        await db.exec(`CREATE TABLE ${t} (id bigint PRIMARY KEY, v text NOT NULL, n int NOT NULL,
          written_at timestamptz NOT NULL, applied_at timestamptz);
          ALTER TABLE ${t} REPLICA IDENTITY FULL`);
      }
    }
  }
  for (const t of TABLES) {
    await cloud.exec(
      engine === "mysql"
        ? `CREATE TRIGGER ${t}_ins BEFORE INSERT ON ${t} FOR EACH ROW SET NEW.applied_at = NOW(6);
           CREATE TRIGGER ${t}_upd BEFORE UPDATE ON ${t} FOR EACH ROW SET NEW.applied_at = NOW(6)`
        : `CREATE TRIGGER ${t}_stamp BEFORE INSERT OR UPDATE ON ${t}
             FOR EACH ROW EXECUTE FUNCTION stamp_applied()`,
    );
  }
}

export interface RealtimeFigures {
  changes: number;
  rate: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  peak_rss_mb: number;
  cpu_pct: number;
}

/**
 * Runs the service over `local` and `cloud` (tables prepared), writes `rate` changes a second for
 * `seconds` on local, waits for cloud to catch up and measures.
 */
export async function realtimeRun(
  engine: "mysql" | "postgres",
  local: BenchDb,
  cloud: BenchDb,
  opts: { dir: string; rate: number; seconds: number },
): Promise<RealtimeFigures> {
  const port = freePort();
  const config = {
    databases: { local: { url: local.url }, cloud: { url: cloud.url } },
    state_storage: { type: "sqlite", path: `${opts.dir}/state.db` },
    sync: {
      mode: "bidirectional",
      workers: 8,
      batch_size: 1000,
      tables: TABLES.map((name) => ({ name, ignore_columns: ["applied_at", "written_at"] })),
    },
    server: { port },
  };
  await Deno.writeTextFile(`${opts.dir}/sync.yaml`, JSON.stringify(config));
  const { RUST_BACKTRACE: _, ...parent } = Deno.env.toObject();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...V8_FLAGS, `${ROOT}services/sync/main.ts`],
    cwd: ROOT,
    clearEnv: true,
    env: { ...parent, SYNC_CONFIG: `${opts.dir}/sync.yaml`, DATA_DIR: opts.dir, LOG_LEVEL: "warn" },
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    for (let i = 0;; i++) {
      const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => "");
      if ((text.match(/synchub_sync_realtime_capture_up\{side="\w+"\} 1/g) ?? []).length === 2) {
        break;
      }
      if (i > 1200) throw new Error("the sync service did not start capturing");
      await sleep(50);
    }
    // The first start's batch run (empty tables) ends before the load starts.
    await firstRunEnded(`${opts.dir}/state.db`);
    const now = engine === "mysql" ? "NOW(6)" : "clock_timestamp()";
    const p = (i: number) => (engine === "mysql" ? "?" : `$${i}`);
    const writers = 4;
    /** `seconds` of load at `rate` on local; ids from `idBase` up. */
    const load = (seconds: number, idBase: number) => {
      const total = opts.rate * seconds;
      const interval = (1000 / opts.rate) * writers;
      const started = performance.now();
      return Promise.all(Array.from({ length: writers }, async (_, w) => {
        let nextId = idBase + w * 10_000_000;
        const idsOf = new Map<string, number[]>();
        for (let i = w; i < total; i += writers) {
          const due = started + (i / writers) * interval;
          const wait = due - performance.now();
          if (wait > 1) await sleep(wait);
          const table = TABLES[Math.floor(i / writers) % TABLES.length]!;
          let ids = idsOf.get(table);
          if (!ids) idsOf.set(table, ids = []);
          if (ids.length > 5 && i % 10 < 3) {
            // An update of a row of this table (its last change's lag is what the row keeps).
            await local.exec(
              `UPDATE ${table} SET n = n + 1, written_at = ${now} WHERE id = ${p(1)}`,
              [ids[(i * 7919) % ids.length]!],
            );
          } else {
            const id = ++nextId;
            ids.push(id);
            await local.exec(
              `INSERT INTO ${table} (id, v, n, written_at) VALUES (${p(1)}, ${p(2)}, 0, ${now})`,
              [id, `value ${id}`],
            );
          }
        }
      }));
    };
    // Warm-up (JIT, connection pools growing), not measured: its rows have ids from WARM_UP.
    await load(WARM_UP_SECONDS, WARM_UP);
    const total = opts.rate * opts.seconds;
    const started = performance.now();
    const cpuBefore = await cpuSeconds(child.pid);
    await load(opts.seconds, 0);
    const elapsed = (performance.now() - started) / 1000;
    const cpu = (await cpuSeconds(child.pid)) - cpuBefore;
    for (const t of TABLES) {
      for (let i = 0;; i++) {
        if (await local.fingerprint(t) === await cloud.fingerprint(t)) break;
        if (i > 1200) throw new Error(`${t} did not catch up on cloud`);
        await sleep(50);
      }
    }
    const lags = (await Promise.all(TABLES.map((t) => cloud.lags(t, WARM_UP)))).flat();
    const s = summarize(lags);
    const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
    return {
      changes: total,
      rate: Math.round(total / elapsed),
      p50_ms: round(s.p50),
      p99_ms: round(s.p99),
      max_ms: round(s.max),
      peak_rss_mb: Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]) / 1024),
      /** The service's CPU while the load ran, in % of one core. */
      cpu_pct: Math.round((cpu / elapsed) * 100),
    };
  } finally {
    await stopChild(child, "SIGTERM", 15_000);
  }
}

async function firstRunEnded(path: string): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    try {
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        const row = db.prepare(
          "SELECT COUNT(*) AS n FROM sync_history WHERE status <> 'running'",
        ).get() as { n: number } | undefined;
        if (Number(row?.n) > 0) return;
      } finally {
        db.close();
      }
    } catch { /* not created yet */ }
    await sleep(50);
  }
  throw new Error("the sync service's first batch run did not end");
}

/** CPU time (user + system) of a process so far, in seconds. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks (USER_HZ = 100)
}
