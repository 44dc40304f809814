/**
 * Checkpoints (SPEC §10): making one of a large bucket through the REST API (request → ready,
 * with the peak RSS of the process that writes it), then downloading it, plain and gzip.
 */
import { now } from "./client.ts";
import type { HubProcess } from "./hub.ts";
import type { PhaseContext } from "./phases.ts";
import { round } from "./stats.ts";

/** A checkpoint of the `bench` bucket of `bench_checkpoint` (`rows` rows). */
export async function checkpointCreate(ctx: PhaseContext, rows: number, writer: HubProcess) {
  const headers = { authorization: `Bearer ${ctx.token}`, "content-type": "application/json" };
  const rssBefore = await currentRssMb(writer.pid);
  const child = watchWriterProcess(writer.pid);
  const started = now();
  const res = await fetch(`${ctx.crudUrl}/v1/checkpoints`, {
    method: "POST",
    headers,
    body: JSON.stringify({ bucket: "bench", tables: ["bench_checkpoint"] }),
  });
  const created = await res.json();
  if (res.status !== 202) throw new Error(`checkpoint refused: ${JSON.stringify(created)}`);
  let checkpoint;
  for (;;) {
    checkpoint = await (await fetch(`${ctx.crudUrl}/v1/checkpoints/${created.id}`, { headers }))
      .json();
    if (checkpoint.status === "failed") throw new Error(`checkpoint failed: ${checkpoint.error}`);
    if (checkpoint.status === "ready") break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (now() - started) / 1000;
  const writerPeak = await child.stop();
  if (checkpoint.rows !== rows) throw new Error(`expected ${rows} rows, got ${checkpoint.rows}`);
  return {
    id: created.id as string,
    ndjsonBytes: checkpoint.ndjson_bytes as number,
    figures: {
      rows,
      seconds: round(seconds, 2),
      rows_per_s: round(rows / seconds, 0),
      file_mb: round(checkpoint.bytes / 1e6, 1),
      ndjson_mb: round(checkpoint.ndjson_bytes / 1e6, 1),
      service: writer.name,
      service_rss_before_mb: Math.round(rssBefore),
      service_peak_rss_mb: Math.round(await writer.peakRssMb()),
      // The checkpoint is written by a child process of the service: its own peak.
      writer_peak_rss_mb: Math.round(writerPeak),
    },
  };
}

/** Downloads a checkpoint; MB/s counts the NDJSON delivered (inflated or not). */
export async function checkpointDownload(
  ctx: PhaseContext,
  id: string,
  ndjsonBytes: number,
  encoding: "identity" | "gzip",
) {
  const started = now();
  const res = await fetch(`${ctx.crudUrl}/v1/checkpoints/${id}/download`, {
    headers: { authorization: `Bearer ${ctx.token}`, "accept-encoding": encoding },
  });
  if (res.status !== 200) throw new Error(`download refused: ${res.status} ${await res.text()}`);
  const gzip = res.headers.get("content-encoding") === "gzip";
  // fetch inflates gzip by itself: either way the body read here is the NDJSON.
  let received = 0;
  for await (const chunk of res.body!) received += chunk.byteLength;
  const seconds = (now() - started) / 1000;
  const wire = gzip ? Number(res.headers.get("content-length")) : received;
  if (received !== ndjsonBytes) throw new Error(`expected ${ndjsonBytes} bytes, got ${received}`);
  return {
    encoding: gzip ? "gzip" : "identity",
    mb: round(received / 1e6, 1),
    wire_mb: round(wire / 1e6, 1),
    seconds: round(seconds, 2),
    mb_per_s: round(received / 1e6 / seconds, 0),
  };
}

/** Follows the service's checkpoint-writer child while it lives; resolves with its peak RSS. */
function watchWriterProcess(parent: number) {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const pid of await childrenOf(parent)) {
        const cmd = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
        if (!cmd.includes("writer_main.ts")) continue;
        const status = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => "");
        const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
        peak = Math.max(peak, kb / 1024);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
    const text = await Deno.readTextFile(`/proc/${pid}/task/${task.name}/children`).catch(() => "");
    out.push(...text.split(" ").filter(Boolean).map(Number));
  }
  return out;
}

async function currentRssMb(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => "");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}
