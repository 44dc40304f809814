/**
 * Stopping: on the first SIGINT or SIGTERM a service stops cleanly — and always within
 * `graceMs` (SPEC §1: 5 s), whatever its connections: half-open sockets that never answer a
 * close, a database or broker that hangs. Past the grace the process exits anyway; only what was
 * delivered was confirmed, so nothing is lost (at least once). A second signal exits at once.
 */
/** Stop steps under way, named in the watchdog's message when the grace runs out. */
const pending = new Set<string>();

/** Runs one named step of a stop; a stop that overruns its grace says which step held it. */
export async function stopStep<T>(name: string, step: () => Promise<T>): Promise<T> {
  pending.add(name);
  try {
    return await step();
  } finally {
    pending.delete(name);
  }
}

export function shutdownSignal(graceMs = 4_500): Promise<Deno.Signal> {
  return new Promise((resolve) => {
    let received = false;
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => {
        if (received) Deno.exit(130);
        received = true;
        const watchdog = setTimeout(() => {
          const held = pending.size ? [...pending].join(", ") : `no step; open: ${openResources()}`;
          console.error(
            `did not stop within ${graceMs} ms of ${signal} (waiting for ${held}): exiting now`,
          );
          Deno.exit(1);
        }, graceMs);
        Deno.unrefTimer(watchdog);
        resolve(signal);
      });
    }
  });
}

/** Runs `main`, printing a failure as one clear message and exiting non-zero. */
export async function runMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (err) {
    console.error(`\n${err instanceof Error ? err.message : String(err)}\n`);
    Deno.exit(1);
  }
}

/** Names of the process's open resources (sockets, files), best effort, for the message above. */
function openResources(): string {
  try {
    // deno-lint-ignore no-explicit-any
    const core = (Deno as any)[(Deno as any).internal]?.core;
    const names = Object.values(core?.resources?.() ?? {}) as string[];
    const counts = new Map<string, number>();
    for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
    return [...counts].map(([n, c]) => `${n} ×${c}`).join(", ") || "unknown";
  } catch {
    return "unknown";
  }
}
