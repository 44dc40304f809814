/** The hub under test, in its own process(es), as a user would run it. */
import { freePort, stopChild } from "../tools/servers/process.ts";
import { taskCommand } from "../tools/tasks.ts";
import { sleep } from "../lib/retry.ts";

export { freePort };
import { inspectorPort, profileDir } from "./profile.ts";

export interface HubProcess {
  readonly name: string;
  readonly pid: number;
  /** Peak resident set size so far, in MB (VmHWM). */
  peakRssMb(): Promise<number>;
  stop(): Promise<void>;
}

export interface RunningHub {
  readonly crudUrl: string;
  readonly wsUrl: string;
  readonly processes: HubProcess[];
  /** Kafka deployment: starts a stopped service again, in place (not waiting until it is ready). */
  respawn?(name: string): HubProcess;
  stop(): Promise<void>;
}

const ROOT = new URL("..", import.meta.url).pathname;

/**
 * `deno task <task>` as a user runs it (tools/tasks.ts); `BENCH_V8_FLAGS=--a,--b` replaces the
 * task's V8 flags, to compare settings.
 */
function taskArgs(task: string, name: string): string[] {
  const { flags, entry } = taskCommand(task);
  const v8 = Deno.env.get("BENCH_V8_FLAGS");
  const chosen = v8 === undefined
    ? flags
    : [...flags.filter((a) => !a.startsWith("--v8-flags=")), `--v8-flags=${v8}`];
  return [...chosen, ...profileFlags(name), entry];
}

function spawn(name: string, task: string, env: Record<string, string>): HubProcess {
  const { RUST_BACKTRACE: _, ...parent } = Deno.env.toObject();
  const child = new Deno.Command(Deno.execPath(), {
    // With BENCH_PROFILE set the hub opens its inspector, for a CPU profile (bench/profile.ts).
    args: taskArgs(task, name),
    cwd: ROOT,
    clearEnv: true,
    env: { ...parent, LOG_LEVEL: parent.BENCH_HUB_LOG_LEVEL ?? "warn", ...env },
    stdin: "null",
    stdout: Deno.env.get("BENCH_HUB_STDOUT") ? "inherit" : "null",
    stderr: "inherit",
  }).spawn();
  let exited = false;
  child.status.then(() => exited = true);
  return {
    name,
    pid: child.pid,
    async peakRssMb() {
      const status = await Deno.readTextFile(`/proc/${child.pid}/status`).catch(() => "");
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
      return kb / 1024;
    },
    async stop() {
      if (!exited) await stopChild(child, "SIGTERM", 15_000);
    },
  };
}

function profileFlags(name: string): string[] {
  const port = inspectorPort(name);
  if (port === undefined) return [];
  const tick = Deno.env.get("BENCH_PROFILE_TICKS");
  // Ticks: V8's sampling log, read with `node --prof-process`; cheaper than the inspector.
  const log = `${profileDir}/${name.split(" ")[0]}-v8.log`;
  return tick
    ? [`--v8-flags=--prof,--logfile=${log},--no-logfile-per-isolate`]
    : [`--inspect=127.0.0.1:${port}`];
}

async function waitReady(url: string, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(url).then((r) => {
      r.body?.cancel();
      return r.ok;
    }, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not become ready at ${url}`);
    await sleep(100);
  }
}

/** All three services in one process joined by the in-process bus (`deno task dev`). */
export async function startMemoryHub(env: Record<string, string>): Promise<RunningHub> {
  const ports = { CRUD_PORT: freePort(), GATEWAY_PORT: freePort(), LISTENER_PORT: freePort() };
  const p = spawn("hub (crud+listener+gateway)", "dev", {
    ...env,
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
  });
  await waitReady(`http://127.0.0.1:${ports.LISTENER_PORT}/ready`, "listener");
  await waitReady(`http://127.0.0.1:${ports.GATEWAY_PORT}/ready`, "gateway");
  await waitReady(`http://127.0.0.1:${ports.CRUD_PORT}/ready`, "crud");
  return {
    crudUrl: `http://127.0.0.1:${ports.CRUD_PORT}`,
    wsUrl: `ws://127.0.0.1:${ports.GATEWAY_PORT}/v1/ws`,
    processes: [p],
    stop: () => p.stop(),
  };
}

/** The distributed layout: `deno task crud|listener|gateway` as three processes joined by Kafka. */
export async function startKafkaHub(env: Record<string, string>): Promise<RunningHub> {
  const ports = { CRUD_PORT: freePort(), GATEWAY_PORT: freePort(), LISTENER_PORT: freePort() };
  const all = {
    ...env,
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    LISTENER_URL: `http://127.0.0.1:${ports.LISTENER_PORT}`,
  };
  const processes = [
    spawn("listener", "listener", all),
    spawn("crud", "crud", all),
    spawn("gateway", "gateway", all),
  ];
  const respawn = (name: string) => {
    const i = processes.findIndex((p) => p.name === name);
    if (i < 0) throw new Error(`no hub process ${name}`);
    return processes[i] = spawn(name, name, all);
  };
  try {
    await waitReady(`http://127.0.0.1:${ports.LISTENER_PORT}/ready`, "listener");
    await waitReady(`http://127.0.0.1:${ports.GATEWAY_PORT}/ready`, "gateway");
    await waitReady(`http://127.0.0.1:${ports.CRUD_PORT}/ready`, "crud");
  } catch (err) {
    await Promise.all(processes.map((p) => p.stop()));
    throw err;
  }
  return {
    crudUrl: `http://127.0.0.1:${ports.CRUD_PORT}`,
    wsUrl: `ws://127.0.0.1:${ports.GATEWAY_PORT}/v1/ws`,
    processes,
    respawn,
    stop: async () => {
      await Promise.all(processes.map((p) => p.stop()));
    },
  };
}
