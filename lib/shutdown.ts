/**
 * Stopping: on the first SIGINT or SIGTERM a service stops cleanly — and always within
 * `graceMs` (SPEC §1: 5 s), whatever its connections: half-open sockets that never answer a
 * close, a database or broker that hangs. Past the grace the process exits anyway; only what was
 * delivered was confirmed, so nothing is lost (at least once). A second signal exits at once.
 */
export function shutdownSignal(graceMs = 4_500): Promise<Deno.Signal> {
  return new Promise((resolve) => {
    let received = false;
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => {
        if (received) Deno.exit(130);
        received = true;
        const watchdog = setTimeout(() => {
          console.error(`did not stop within ${graceMs} ms of ${signal}: exiting now`);
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
