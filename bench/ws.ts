/**
 * `deno task bench --only=ws`: lib/websocket against Deno.upgradeWebSocket on this machine.
 * For each connection count, a fresh process per server: its RSS growth per idle connection
 * (after a GC), then rounds of one ~300-byte text frame fanned out to every
 * connection, timed from the server's send stamp to each client's receipt. Clients are minimal
 * WebSocket clients in other processes (bench/ws_clients.ts), so they do not share the server's
 * event loop — but on a small machine they share its cores: receiving a fan-out costs the clients
 * more CPU than sending it costs the server, so the latencies bound the server's from above, and
 * `server_cpu_p50_ms` (CPU the server spent per fan-out) is the cleaner comparison.
 */
import { round, summarize } from "./stats.ts";

const SERVER = new URL("./ws_server.ts", import.meta.url).pathname;
const CLIENTS = new URL("./ws_clients.ts", import.meta.url).pathname;

/** A child Deno process spoken to by lines on stdin and stdout. */
class LineProcess {
  private readonly lines: string[] = [];
  private wake: (() => void) | undefined;
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private readonly child: Deno.ChildProcess;

  constructor(args: string[]) {
    this.child = new Deno.Command(Deno.execPath(), {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.writer = this.child.stdin.getWriter();
    this.pump();
  }

  private async pump(): Promise<void> {
    let buf = "";
    for await (const text of this.child.stdout.pipeThrough(new TextDecoderStream())) {
      buf += text;
      const parts = buf.split("\n");
      buf = parts.pop()!;
      this.lines.push(...parts);
      this.wake?.();
    }
  }

  async send(line: string): Promise<void> {
    await this.writer.write(new TextEncoder().encode(`${line}\n`));
  }

  /** The next line printed, waiting up to `ms`. */
  async next(ms = 180_000): Promise<string> {
    const deadline = Date.now() + ms;
    while (this.lines.length === 0) {
      if (Date.now() > deadline) throw new Error("a bench process stopped answering");
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 200);
      });
    }
    return this.lines.shift()!;
  }

  async ask<T>(line: string): Promise<T> {
    await this.send(line);
    return JSON.parse(await this.next()) as T;
  }

  async kill(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch { /* exited */ }
    await this.child.status;
  }
}

type Mem = { rss: number; heap: number; external: number };
const IMPLS = {
  deno: "Deno.upgradeWebSocket",
  "lib-node": "lib/websocket(node:net)",
  "lib-deno": "lib/websocket(Deno.listen)",
} as const;
type Impl = keyof typeof IMPLS;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One server process and its two client processes (each holding half the connections). */
class Side {
  readonly workers: LineProcess[] = [];
  readonly mem: Mem[] = [];
  readonly loops: number[] = [];
  /** CPU time the server spent on each round (user + system). */
  readonly cpu: number[] = [];
  readonly receipts: [number, number][] = [];
  port = 0;
  constructor(readonly impl: Impl, readonly server: LineProcess) {}

  /** Opens `count` more connections, from a new client process. */
  async connect(count: number): Promise<void> {
    const w = new LineProcess(["run", "-A", CLIENTS]);
    this.workers.push(w);
    await w.send(`connect ws://127.0.0.1:${this.port}/ws ${count}`);
    if ((await w.next()) !== "READY") throw new Error("bench clients did not connect");
  }

  async settle(expected: number): Promise<void> {
    while ((await this.server.ask<{ count: number }>("count")).count < expected) await wait(100);
    await wait(1000);
    this.mem.push(await this.server.ask<Mem>("mem"));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.workers, this.server].map((p) => p.kill()));
  }
}

/**
 * The servers run at once, each with its own clients; fan-out rounds alternate between them,
 * so load from elsewhere on the machine weighs on all alike.
 */
export async function measure(connections: number, rounds: number) {
  const sides = (Object.keys(IMPLS) as Impl[]).map((impl) =>
    new Side(impl, new LineProcess(["run", "-A", "--v8-flags=--expose-gc", SERVER, impl]))
  );
  try {
    for (const s of sides) {
      s.port = (JSON.parse(await s.server.next(30_000)) as { port: number }).port;
      await s.settle(0);
    }
    const half = Math.ceil(connections / 2);
    for (const step of [1, 2]) {
      for (const s of sides) await s.connect(step === 1 ? half : connections - half);
      for (const s of sides) await s.settle(step === 1 ? half : connections);
    }
    for (let r = 1; r <= rounds; r++) {
      for (const s of sides) {
        const cpu = await s.server.ask<{ cpu_ms: number }>("cpu");
        s.loops.push((await s.server.ask<{ loop_ms: number }>(`fanout ${r}`)).loop_ms);
        await wait(connections >= 5000 ? 1000 : 300);
        s.cpu.push((await s.server.ask<{ cpu_ms: number }>("cpu")).cpu_ms - cpu.cpu_ms);
      }
    }
    const figures = [];
    for (const s of sides) {
      for (const w of s.workers) {
        await w.send("dump");
        s.receipts.push(
          ...(JSON.parse(await w.next()) as { receipts: [number, number][] }).receipts,
        );
      }
      const last = new Map<number, number>(); // round → time to its last receipt
      for (const [r, ms] of s.receipts) last.set(r, Math.max(last.get(r) ?? 0, ms));
      const toLast = summarize([...last.values()]);
      const all = summarize(s.receipts.map(([, ms]) => ms));
      const [before, mid, idle] = s.mem as [Mem, Mem, Mem];
      figures.push({
        bench: "ws_fanout",
        transport: IMPLS[s.impl],
        connections,
        rounds,
        received: s.receipts.length,
        expected: connections * rounds,
        last_p50_ms: round(toLast.p50),
        last_p99_ms: round(toLast.p99),
        all_p50_ms: round(all.p50),
        all_p99_ms: round(all.p99),
        send_loop_p50_ms: round(summarize(s.loops).p50),
        server_cpu_p50_ms: round(summarize(s.cpu).p50),
      }, {
        bench: "ws_idle_memory",
        transport: IMPLS[s.impl],
        connections,
        // Growth of the process's RSS (after a GC) per connection; the second half alone
        // leaves out what the first connections cost once (heap growth, buffers).
        bytes_per_conn: Math.round((idle.rss - before.rss) / connections),
        marginal_bytes_per_conn: Math.round((idle.rss - mid.rss) / (connections - half)),
        heap_bytes_per_conn: Math.round((idle.heap - before.heap) / connections),
      });
    }
    return figures;
  } finally {
    await Promise.all(sides.map((s) => s.stop()));
  }
}

/** The figures, the servers side by side for each connection count. */
export async function wsBenches(opts: { quick: boolean }) {
  const figures = [];
  const rounds = opts.quick ? 10 : 20;
  for (const connections of opts.quick ? [1000] : [1000, 10_000]) {
    console.error(`ws: ${connections} connections per server, ${rounds} fan-outs each`);
    figures.push(...await measure(connections, rounds));
  }
  return figures;
}
