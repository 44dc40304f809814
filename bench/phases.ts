/**
 * The workloads. Each writes through its own PostgreSQL connections (as an application would)
 * and times what one or many WebSocket clients receive.
 */
import pg from "pg";
import { showProgress } from "./progress.ts";
import { BenchClient, now, until } from "./client.ts";
import { freePort } from "./hub.ts";
import { round, summarize } from "./stats.ts";

export interface PhaseContext {
  dbUrl: string;
  wsUrl: string;
  crudUrl: string;
  token: string;
  transport: string;
  /** The hub's processes, for the CPU time they spend on a phase. */
  processes?: readonly { name: string; pid: number }[];
}

/** CPU seconds (user + system) a process has used so far; 0 when it is gone. */
export async function cpuSeconds(pid: number | "self"): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100; // clock ticks of 10 ms
}

/** CPU microseconds per change each hub process and the bench client spent during `run`. */
async function cpuPerChange<T>(ctx: PhaseContext, changes: () => number, run: () => Promise<T>) {
  const procs = ctx.processes ?? [];
  const before = await Promise.all([...procs.map((p) => cpuSeconds(p.pid)), cpuSeconds("self")]);
  const result = await run();
  const after = await Promise.all([...procs.map((p) => cpuSeconds(p.pid)), cpuSeconds("self")]);
  const n = Math.max(1, changes());
  const per = (i: number) => round(((after[i]! - before[i]!) * 1e6) / n, 1);
  const figures: Record<string, number> = {};
  procs.forEach((p, i) => figures[`cpu_us_per_change_${p.name.split(" ")[0]}`] = per(i));
  figures.cpu_us_per_change_client = per(procs.length);
  return { result, figures };
}

let nextId = 1;

/** Ids for bench_events rows not written yet (every phase writes new rows). */
export function takeIds(n: number): number {
  const first = nextId;
  nextId += n;
  return first;
}

/** Inserts rows `ids` into bench_events in one transaction; resolves with the commit time. */
async function insert(pool: pg.Pool, ids: number[]): Promise<number> {
  await pool.query(
    "INSERT INTO bench_events (id, bucket, payload) SELECT unnest($1::bigint[]), 'bench', 'payload-' || unnest($1::bigint[])",
    [ids],
  );
  return now();
}

/**
 * Commit → client latency at a fixed rate of changes per second. Timed from the moment the writer
 * issues the INSERT, so it includes the commit itself: an upper bound on commit → client. The
 * time from the writer's commit acknowledgement (`ack_*`) is the lower bound.
 */
export async function latencyAtRate(ctx: PhaseContext, rate: number, seconds: number) {
  const pool = new pg.Pool({ connectionString: ctx.dbUrl, max: 4 });
  const client = await BenchClient.connect(ctx.wsUrl, ctx.token);
  await client.subscribe("public.bench_events");
  // Settle: with Kafka, a gateway joins a table's topic once, on its first subscriber.
  await new Promise((r) => setTimeout(r, 2000));
  const issued = new Map<number, number>();
  const acked = new Map<number, number>();
  const writes: Promise<void>[] = [];
  const started = now();
  let sent = 0;
  try {
    while (now() - started < seconds * 1000) {
      const due = Math.floor((rate * (now() - started)) / 1000) - sent;
      if (due > 0) {
        const ids = Array.from({ length: due }, () => nextId++);
        sent += due;
        const t = now();
        for (const id of ids) issued.set(id, t);
        writes.push(insert(pool, ids).then((ack) => ids.forEach((id) => acked.set(id, ack))));
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(writes);
    await until(() => [...issued.keys()].every((id) => client.received.has(id)), 30_000);
    const since = (from: Map<number, number>) =>
      [...from].flatMap(([id, t]) => {
        const r = client.received.get(id);
        return r === undefined ? [] : [Math.max(0, r - t)];
      });
    const s = summarize(since(issued));
    const ack = summarize(since(acked));
    return {
      rate,
      achieved_rate: round(issued.size / seconds, 0),
      p50_ms: round(s.p50),
      p99_ms: round(s.p99),
      max_ms: round(s.max),
      ack_p50_ms: round(ack.p50),
      ack_p99_ms: round(ack.p99),
      lost: issued.size - s.count,
    };
  } finally {
    client.close();
    await pool.end();
  }
}

/**
 * The highest sustained rate to one client: writes arrive faster than the hub can pass them on,
 * so the client's receipt rate is the hub's. The ceiling is `pg_recvlogical` (pgoutput) reading
 * the same changes from its own slot.
 */
export async function throughput(ctx: PhaseContext, rows: number) {
  const admin = new pg.Client({ connectionString: ctx.dbUrl });
  await admin.connect();
  const client = await BenchClient.connect(ctx.wsUrl, ctx.token);
  await client.subscribe("public.bench_events");
  const slot = `bench_ceiling_${ctx.transport}`;
  try {
    await admin.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    const first = nextId;
    const started = now();
    let written = started;
    const { result: complete, figures: cpu } = await cpuPerChange(
      ctx,
      () => client.received.size,
      async () => {
        for (let done = 0; done < rows; done += 1000) {
          const n = Math.min(1000, rows - done);
          await admin.query(
            "INSERT INTO bench_events (id, bucket, payload) SELECT g, 'bench', 'payload-' || g FROM generate_series($1::bigint, $2::bigint) g",
            [nextId, nextId + n - 1],
          );
          nextId += n;
        }
        written = now();
        const stop = showProgress("changes received", rows, () => client.received.size);
        return await until(() => client.received.size >= rows, 300_000).finally(stop);
      },
    );
    const receipts = [...client.received.values()];
    const last = receipts.reduce((a, b) => Math.max(a, b), 0);
    const rate = client.received.size / ((last - started) / 1000);
    const { rows: [end] } = await admin.query("SELECT pg_current_wal_lsn()::text AS lsn");
    const ceiling = await recvlogicalRate(ctx.dbUrl, slot, end.lsn, rows);
    return {
      rows,
      received: client.received.size,
      complete: complete && client.received.size === rows && first > 0,
      ...(client.closed ? { closed: client.closed.code } : {}),
      write_s: round((written - started) / 1000),
      changes_per_s: round(rate, 0),
      ceiling_per_s: ceiling === undefined ? "n/a" : round(ceiling, 0),
      ratio: ceiling === undefined ? "n/a" : round(rate / ceiling, 3),
      ...cpu,
    };
  } finally {
    client.close();
    await admin.query("SELECT pg_drop_replication_slot($1)", [slot]).catch(() => {});
    await admin.end();
  }
}

/** Changes per second `pg_recvlogical` reads from `slot` up to `endLsn`; undefined if absent. */
export async function recvlogicalRate(dbUrl: string, slot: string, endLsn: string, rows: number) {
  const started = now();
  let out;
  try {
    out = await new Deno.Command("pg_recvlogical", {
      args: [
        "-d",
        dbUrl,
        "--slot",
        slot,
        "--start",
        "--no-loop",
        "-f",
        "/dev/null",
        `--endpos=${endLsn}`,
        "-o",
        "proto_version=1",
        "-o",
        "publication_names=synchub",
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
  } catch {
    console.error(
      "\n!! pg_recvlogical is not installed (Debian: apt-get install postgresql-client): no ceiling figure\n",
    );
    return undefined;
  }
  if (!out.success) {
    console.error(`pg_recvlogical failed: ${new TextDecoder().decode(out.stderr)}`);
    return undefined;
  }
  return rows / ((now() - started) / 1000);
}

/** A snapshot of `rows` rows to one client: subscribe → `synced`. */
export async function snapshot(ctx: PhaseContext, rows: number) {
  const client = await BenchClient.connect(ctx.wsUrl, ctx.token);
  try {
    const started = now();
    await client.subscribe("public.bench_snapshot", { snapshot: true });
    await until(() => client.synced !== undefined, 120_000);
    const seconds = ((client.synced ?? NaN) - started) / 1000;
    return {
      rows: client.received.size,
      expected: rows,
      seconds: round(seconds, 3),
      rows_per_s: round(client.received.size / seconds, 0),
    };
  } finally {
    client.close();
  }
}

/**
 * One change to `connections` clients, spread over worker processes; `rounds` changes, each
 * timed from its commit to each client's receipt.
 */
export async function fanout(
  ctx: PhaseContext,
  connections: number,
  rounds: number,
  gatewayRss: () => Promise<number>,
) {
  const workers = connections >= 2000 ? 4 : 1;
  const pool = new pg.Pool({ connectionString: ctx.dbUrl, max: 1 });
  const rssBefore = await gatewayRss();
  const procs = Array.from({ length: workers }, () =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./fanout_client.ts", import.meta.url).pathname,
        ctx.wsUrl,
        ctx.token,
        String(Math.ceil(connections / workers)),
        String(rounds),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn());
  const outputs = procs.map((p) => p.stdout.pipeThrough(new TextDecoderStream()).getReader());
  const lines = outputs.map(() => [] as string[]);
  const pump = outputs.map(async (reader, i) => {
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      const parts = buf.split("\n");
      buf = parts.pop()!;
      lines[i]!.push(...parts);
    }
  });
  try {
    const ready = await until(() => lines.every((l) => l.includes("READY")), 180_000);
    if (!ready) throw new Error("fan-out clients did not all connect");
    await new Promise((r) => setTimeout(r, 1000)); // let the gateway settle before measuring memory
    const idleKbPerConn = ((await gatewayRss()) - rssBefore) * 1024 / connections;
    const committed = new Map<number, number>();
    for (let r = 0; r < rounds; r++) {
      await pool.query("INSERT INTO bench_fanout (id, bucket) VALUES ($1, 'bench')", [r + 1]);
      committed.set(r + 1, now());
      await new Promise((res) => setTimeout(res, connections >= 5000 ? 1500 : 300));
    }
    await Promise.all(procs.map((p) => p.status));
    await Promise.all(pump);
    const latencies: number[] = [];
    let receipts = 0;
    for (const l of lines) {
      const result = JSON.parse(l.find((x) => x.startsWith("{")) ?? '{"receipts":[]}');
      for (const [id, t] of result.receipts as [number, number][]) {
        receipts++;
        latencies.push(Math.max(0, t - committed.get(id)!));
      }
    }
    const s = summarize(latencies);
    return {
      connections,
      receipts,
      expected: connections * rounds,
      p50_ms: round(s.p50),
      p99_ms: round(s.p99),
      max_ms: round(s.max),
      idle_kb_per_conn: round(idleKbPerConn, 1),
    };
  } finally {
    for (const p of procs) {
      try {
        p.kill("SIGKILL");
      } catch { /* exited */ }
    }
    await pool.query("TRUNCATE bench_fanout").catch(() => {});
    await pool.end();
  }
}

export { freePort };

/**
 * Row creation through the REST API: `concurrency` clients each POST a row, wait for the 201 and
 * POST the next, for `seconds`. Every write is a real insert (with its WAL, decoded and published
 * by the listener in the same run). Also rows/s when the same rows arrive as 100-row batches.
 */
export async function crudCreate(ctx: PhaseContext, seconds: number, concurrency: number) {
  const headers = { authorization: `Bearer ${ctx.token}`, "content-type": "application/json" };
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${ctx.crudUrl}${path}`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
    });
    await res.body?.cancel();
    return res.status;
  };
  // Warm up: connections, the catalog, JIT.
  for (let i = 0; i < 200; i++) await post("/v1/tables/todos/rows", { title: "warm-up" });

  const latencies: number[] = [];
  const failures = new Map<number, number>();
  let created = 0;
  const started = now();
  const deadline = started + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    for (let i = 0; now() < deadline; i++) {
      const t0 = now();
      const status = await post("/v1/tables/todos/rows", { title: `row ${w}-${i}`, done: false });
      latencies.push(now() - t0);
      if (status === 201) created++;
      else failures.set(status, (failures.get(status) ?? 0) + 1);
    }
  }));
  const elapsed = (now() - started) / 1000;
  const lat = summarize(latencies);

  const batchRows = 100;
  let batched = 0;
  const batchStart = now();
  const batchDeadline = batchStart + seconds * 1000;
  await Promise.all(Array.from({ length: Math.max(1, concurrency / 8) }, async () => {
    while (now() < batchDeadline) {
      const ops = Array.from({ length: batchRows }, (_, i) => ({
        op: "insert",
        row: { title: `batch ${i}` },
      }));
      if (await post("/v1/tables/todos/batch", ops) === 200) batched += batchRows;
    }
  }));
  const batchElapsed = (now() - batchStart) / 1000;
  return {
    concurrency,
    rows_per_s: round(created / elapsed, 0),
    p50_ms: round(lat.p50),
    p99_ms: round(lat.p99),
    failed: [...failures.values()].reduce((a, b) => a + b, 0),
    batch_rows_per_s: round(batched / batchElapsed, 0),
  };
}
