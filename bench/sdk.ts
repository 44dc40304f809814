/**
 * The client SDK against the running hub: how soon a write made through one SDK client is
 * visible in another (REST → PostgreSQL → WAL → bus → gateway → socket), and how fast a queue
 * of offline writes drains once the network is back — each applied exactly once.
 */
import pg from "pg";
import { memoryStorage } from "../sdk/storage/memory.ts";
import { SyncHub } from "../sdk/sync_hub.ts";
import type { Row } from "../sdk/types.ts";
import { now, until } from "./client.ts";
import type { PhaseContext } from "./phases.ts";
import { round, summarize } from "./stats.ts";

function client(ctx: PhaseContext, fetchFn: typeof fetch = fetch): SyncHub {
  return new SyncHub({
    url: ctx.crudUrl,
    wsUrl: ctx.wsUrl,
    token: ctx.token,
    storage: memoryStorage(),
    fetch: fetchFn,
  });
}

async function online(hub: SyncHub): Promise<void> {
  await until(() => hub.status === "online", 30_000);
}

/** `writes` inserts by A, one after another at `intervalMs`; each timed until B's subscriber has it. */
export async function sdkLatency(ctx: PhaseContext, writes: number, intervalMs: number) {
  const a = client(ctx), b = client(ctx);
  const seenAt = new Map<string, number>();
  try {
    const known = new Set<string>();
    b.table("public.todos").subscribe((rows: Row[]) => {
      const t = now();
      for (const r of rows) {
        const id = String(r.id);
        if (known.has(id)) continue;
        known.add(id);
        seenAt.set(id, t);
      }
    });
    const ta = a.table("public.todos");
    await Promise.all([online(a), online(b)]);
    await new Promise((r) => setTimeout(r, 500)); // both snapshots in
    for (let i = 0; i < 20; i++) await ta.insert({ title: `warm-up ${i}` }); // JIT, pools, catalog
    await a.flush();
    const startedAt = new Map<string, number>();
    for (let i = 0; i < writes; i++) {
      const t = now();
      const row = await ta.insert({ title: `latency ${i}` });
      startedAt.set(String(row.id), t);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
    await until(() => [...startedAt.keys()].every((id) => seenAt.has(id)), 30_000);
    const samples = [...startedAt].map(([id, t]) => seenAt.get(id)! - t);
    const s = summarize(samples);
    return { writes, p50_ms: round(s.p50), p99_ms: round(s.p99), max_ms: round(s.max) };
  } finally {
    await a.close();
    await b.close();
  }
}

/** `count` inserts queued offline, then the network comes back: time until all are acknowledged. */
export async function sdkDrain(ctx: PhaseContext, count: number) {
  let offline = true;
  const gated: typeof fetch = (input, init) =>
    offline ? Promise.reject(new TypeError("offline (bench)")) : fetch(input, init);
  const hub = client(ctx, gated);
  const marker = `drain-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const t = hub.table("public.todos");
    const queuedFrom = now();
    for (let i = 0; i < count; i++) await t.insert({ title: `${marker} ${i}` });
    const queueSeconds = (now() - queuedFrom) / 1000;
    if (hub.pendingCount() !== count) throw new Error(`${hub.pendingCount()} queued, not ${count}`);
    offline = false;
    const started = now();
    await hub.flush();
    const seconds = (now() - started) / 1000;
    const db = new pg.Client({ connectionString: ctx.dbUrl });
    await db.connect();
    const { rows: [r] } = await db.query(
      "SELECT count(*)::int AS n, count(DISTINCT title)::int AS distinct_titles FROM public.todos WHERE title LIKE $1",
      [`${marker} %`],
    );
    await db.end();
    return {
      writes: count,
      queue_s: round(queueSeconds),
      drain_s: round(seconds),
      writes_per_s: Math.round(count / seconds),
      applied: r.n,
      exactly_once: r.n === count && r.distinct_titles === count,
    };
  } finally {
    await hub.close();
  }
}
