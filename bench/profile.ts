/**
 * `BENCH_PROFILE=<dir>`: hub processes run with the V8 inspector open, and the bench records a CPU
 * profile of each around one bench (open the .cpuprofile in Chrome DevTools; its top functions by
 * self time are printed as well, bench/profile_top.ts).
 *
 * `BENCH_PROFILE_PROCESS=listener,gateway` names the processes of the Kafka deployment to profile
 * (`hub`, the default, is the in-process hub); `BENCH_PROFILE_INTERVAL_US` is the sampling period
 * (default 500 µs: finer sampling costs the profiled process throughput).
 */
import { formatTop, selfTimes } from "./profile_top.ts";

export const profileDir = Deno.env.get("BENCH_PROFILE");
const BASE_PORT = 9239;
const wanted = (Deno.env.get("BENCH_PROFILE_PROCESS") ?? "hub").split(",").map((s) => s.trim());
const interval = Number(Deno.env.get("BENCH_PROFILE_INTERVAL_US") ?? 500);

/** Inspector ports of the processes started for profiling, by process name. */
const ports = new Map<string, number>();

/** The inspector port a hub process opens, when it is one to profile (its name's first word). */
export function inspectorPort(name: string): number | undefined {
  if (!profileDir) return undefined;
  const short = name.split(" ")[0]!;
  if (!wanted.includes(short)) return undefined;
  let port = ports.get(short);
  if (port === undefined) ports.set(short, port = BASE_PORT + ports.size);
  return port;
}

/** Starts a profile in every process opened for profiling; the returned stop writes them. */
export async function startProfile(): Promise<() => Promise<string[]>> {
  const sessions = await Promise.all([...ports].map(async ([name, port]) => ({
    name,
    session: await InspectorSession.open(port),
  })));
  for (const { session } of sessions) {
    await session.call("Profiler.enable");
    await session.call("Profiler.setSamplingInterval", { interval });
    await session.call("Profiler.start");
  }
  return async () => {
    const paths: string[] = [];
    for (const { name, session } of sessions) {
      const { profile } = await session.call("Profiler.stop") as { profile: unknown };
      session.close();
      const path = `${profileDir}/${name}-${Date.now()}.cpuprofile`;
      await Deno.writeTextFile(path, JSON.stringify(profile));
      console.error(`CPU profile of ${name}: ${path}`);
      console.error(formatTop(selfTimes(profile as never), 15));
      paths.push(path);
    }
    return paths;
  };
}

class InspectorSession {
  private seq = 0;
  private readonly pending = new Map<number, (v: unknown) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      this.pending.get(m.id)?.(m.result);
      this.pending.delete(m.id);
    };
  }

  static async open(port: number): Promise<InspectorSession> {
    let list;
    for (let attempt = 0; !list; attempt++) {
      // A process just started opens its inspector a moment later.
      list = await fetch(`http://127.0.0.1:${port}/json/list`).then((r) => r.json(), (err) => {
        if (attempt > 100) throw err;
        return new Promise((r) => setTimeout(r, 20));
      });
    }
    const ws = new WebSocket(list[0].webSocketDebuggerUrl);
    await new Promise((r) => ws.onopen = r);
    return new InspectorSession(ws);
  }

  call(method: string, params = {}): Promise<unknown> {
    return new Promise((resolve) => {
      const id = ++this.seq;
      this.pending.set(id, resolve);
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.ws.close();
  }
}
