/**
 * MySQL figures: binlog → bus. The binlog source and the listener pipeline run here against a
 * private MariaDB (Debian's package), publishing to the in-process bus, whose arrivals are timed.
 */
import { columnNamed } from "../lib/access.ts";
import mysql from "mysql2/promise";
import type { BusRecord } from "../lib/bus/bus.ts";
import { MemoryBus } from "../lib/bus/memory_bus.ts";
import { freePort } from "../tools/servers/process.ts";
import { createLogger, silentLogger } from "../lib/log.ts";
import { Registry } from "../lib/metrics.ts";
import { mariaDbInstalled, startMariaDb } from "../tools/servers/mariadb.ts";
import type { PositionStore } from "../lib/postgres/positions.ts";
import { runPipeline } from "../services/listener/pipeline.ts";
import { BinlogSource } from "../services/listener/mysql/binlog_source.ts";
import { now, until } from "./client.ts";
import { round, summarize } from "./stats.ts";

class Positions implements PositionStore {
  private readonly saved = new Map<string, string>();
  load(s: string) {
    return Promise.resolve(this.saved.get(s) ?? null);
  }
  save(s: string, p: string) {
    this.saved.set(s, p);
    return Promise.resolve();
  }
  clear(s: string) {
    this.saved.delete(s);
    return Promise.resolve();
  }
}

export async function mysqlBenches(dir: string, opts: { seconds: number; rows: number }) {
  if (!await mariaDbInstalled()) {
    console.error(
      "\n!! MariaDB is not installed (apt-get install mariadb-server): no MySQL figures\n",
    );
    return [];
  }
  const server = await startMariaDb({
    dataDir: `${dir}/mariadb`,
    port: freePort(),
    log: createLogger("bench-mariadb", "warn"),
  });
  const conn = await mysql.createPool({
    host: "127.0.0.1",
    port: server.port,
    user: "root",
    connectionLimit: 4,
    multipleStatements: true,
  });
  await conn.query(
    "CREATE DATABASE bench; CREATE TABLE bench.events (id int PRIMARY KEY, bucket varchar(20), payload varchar(100))",
  );
  const bus = new MemoryBus({ retentionMs: 600_000, maxBytes: 256 * 1024 * 1024 });
  const arrived = new Map<number, number>();
  const follow = new AbortController();
  await bus.follow((records: readonly BusRecord[]) => {
    const t = now();
    for (const r of records) arrived.set(JSON.parse(r.key).id, t);
  }, follow.signal);
  const source = new BinlogSource({
    name: "mysql",
    url: `mysql://root@127.0.0.1:${server.port}/bench`,
    tables: undefined,
    bucketColumns: columnNamed("bucket"),
    serverId: 9100,
    positions: new Positions(),
    log: silentLogger,
  });
  const r = new Registry("bench");
  const stop = new AbortController();
  const pipeline = runPipeline({
    source,
    bus,
    topicPrefix: "bench",
    log: silentLogger,
    metrics: {
      envelopes: r.counter("e", "e"),
      batches: r.counter("b", "b"),
      lag: r.histogram("l", "l"),
      oversize: r.counter("o", "o"),
    },
  }, stop.signal);
  const figures = [];
  try {
    await until(() => source.ready(), 60_000);
    let id = 1;

    // Binlog → bus at a fixed rate: one row per transaction, timed from issuing the INSERT.
    const issued = new Map<number, number>();
    const writes: Promise<unknown>[] = [];
    const started = now();
    let sent = 0;
    while (now() - started < opts.seconds * 1000) {
      const due = Math.floor((1000 * (now() - started)) / 1000) - sent;
      for (let k = 0; k < due; k++, sent++) {
        const row = id++;
        issued.set(row, now());
        writes.push(conn.query("INSERT INTO bench.events VALUES (?, 'bench', 'payload')", [row]));
      }
      await new Promise((res) => setTimeout(res, 1));
    }
    await Promise.all(writes);
    await until(() => [...issued.keys()].every((k) => arrived.has(k)), 30_000);
    const lat = summarize(
      [...issued].flatMap(([k, t]) => (arrived.has(k) ? [arrived.get(k)! - t] : [])),
    );
    figures.push({
      bench: "mysql_latency",
      transport: "memory",
      rate: 1000,
      p50_ms: round(lat.p50),
      p99_ms: round(lat.p99),
      max_ms: round(lat.max),
      lost: issued.size - lat.count,
    });

    // 100,000 rows written as fast as MariaDB takes them, 1,000 per transaction.
    const first = id;
    const bulkStart = now();
    for (let done = 0; done < opts.rows; done += 1000) {
      await conn.query(
        "INSERT INTO bench.events SELECT seq, 'bench', 'payload' FROM bench.seq_1_to_1000000 WHERE seq BETWEEN ? AND ?",
        [id, id + 999],
      );
      id += 1000;
    }
    const written = now();
    const all = await until(() => {
      for (let k = first; k < first + opts.rows; k += 997) if (!arrived.has(k)) return false;
      return arrived.has(first + opts.rows - 1) &&
        [...Array(opts.rows).keys()].every((i) => arrived.has(first + i));
    }, 120_000);
    let last = 0;
    for (let k = first; k < first + opts.rows; k++) last = Math.max(last, arrived.get(k) ?? 0);
    figures.push({
      bench: "mysql_bulk",
      transport: "memory",
      rows: opts.rows,
      complete: all,
      write_s: round((written - bulkStart) / 1000),
      seconds: round((last - bulkStart) / 1000, 3),
      rows_per_s: round(opts.rows / ((last - bulkStart) / 1000), 0),
    });
  } finally {
    stop.abort();
    await pipeline.catch(() => {});
    follow.abort();
    await bus.close();
    await conn.end();
    await server.stop();
  }
  return figures;
}
