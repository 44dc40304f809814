/** Resolves on the first SIGINT or SIGTERM; a second one ends the process at once. */
export function shutdownSignal(): Promise<Deno.Signal> {
  return new Promise((resolve) => {
    let received = false;
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => {
        if (received) Deno.exit(130);
        received = true;
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
