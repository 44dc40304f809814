/**
 * `BENCH_PROFILE=<dir>`: the hub runs with the V8 inspector open and the bench records a CPU
 * profile of it around the throughput run (open the .cpuprofile in Chrome DevTools).
 */

export const profileDir = Deno.env.get("BENCH_PROFILE");
export const INSPECTOR_PORT = 9239;

export async function startProfile(): Promise<() => Promise<string>> {
  const list = await (await fetch(`http://127.0.0.1:${INSPECTOR_PORT}/json/list`)).json();
  const ws = new WebSocket(list[0].webSocketDebuggerUrl);
  await new Promise((r) => ws.onopen = r);
  let seq = 0;
  const pending = new Map<number, (v: unknown) => void>();
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    pending.get(m.id)?.(m.result);
  };
  const call = (method: string, params = {}) =>
    new Promise<unknown>((resolve) => {
      const id = ++seq;
      pending.set(id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: 200 });
  await call("Profiler.start");
  return async () => {
    const { profile } = await call("Profiler.stop") as { profile: unknown };
    ws.close();
    const path = `${profileDir}/hub-${Date.now()}.cpuprofile`;
    await Deno.writeTextFile(path, JSON.stringify(profile));
    return path;
  };
}
