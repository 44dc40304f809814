/**
 * One transaction of millions of rows (100-byte payload) through the hub to one WebSocket
 * subscriber: delivered whole, with the memory of every hub process sampled as it goes. A
 * transaction is streamed in parts, never held whole (issue 12).
 */
import pg from "pg";
import { BenchClient, now, until } from "./client.ts";
import type { HubProcess } from "./hub.ts";
import type { PhaseContext } from "./phases.ts";
import { showProgress } from "./progress.ts";
import { round } from "./stats.ts";

export async function bigTransaction(ctx: PhaseContext, rows: number, processes: HubProcess[]) {
  const admin = new pg.Client({ connectionString: ctx.dbUrl });
  await admin.connect();
  const client = await BenchClient.connect(ctx.wsUrl, ctx.token, { countOnly: true });
  await client.subscribe("public.bench_events");
  await new Promise((r) => setTimeout(r, 1000));
  const peak = new Map<string, number>();
  const sampler = setInterval(async () => {
    for (const p of processes) {
      peak.set(p.name, Math.max(peak.get(p.name) ?? 0, await rssMb(p.pid)));
    }
  }, 250);
  try {
    const { rows: [{ first }] } = await admin.query(
      "SELECT coalesce(max(id), 0) + 1 AS first FROM bench_events",
    );
    const started = now();
    await admin.query(
      `INSERT INTO bench_events (id, bucket, payload)
         SELECT g, 'bench', repeat('x', 100) FROM generate_series($1::bigint, $2::bigint) g`,
      [first, Number(first) + rows - 1],
    );
    const committed = now();
    const stop = showProgress("changes received", rows, () => client.seenCount);
    const complete = await until(() => client.seenCount >= rows || !!client.closed, 3_600_000)
      .finally(stop);
    const done = now();
    return {
      rows,
      received: client.seenCount,
      complete: complete && client.seenCount === rows,
      ...(client.closed ? { closed: client.closed.code } : {}),
      commit_s: round((committed - started) / 1000),
      commit_to_last_s: round((done - committed) / 1000),
      changes_per_s: round(client.seenCount / ((done - committed) / 1000), 0),
      ...Object.fromEntries([...peak].map(([name, mb]) => [`rss_mb_${name.split(" ")[0]}`, mb])),
    };
  } finally {
    clearInterval(sampler);
    client.close();
    await admin.end();
  }
}

async function rssMb(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => "");
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}
