/** The stage benches' clock: wall time and this process's CPU time around a loop, per change. */
import { cpuUsage } from "node:process";
import { round } from "./stats.ts";

export interface Timing {
  ops_per_s: number;
  cpu_us_per_change: number;
}

/** Wall time and this process's CPU time around `run`, per change. */
export async function timed(changes: number, run: () => unknown): Promise<Timing> {
  const cpu = cpuUsage();
  const started = performance.now();
  await run();
  const seconds = (performance.now() - started) / 1000;
  const used = cpuUsage(cpu);
  return {
    ops_per_s: round(changes / seconds, 0),
    cpu_us_per_change: round((used.user + used.system) / changes, 2),
  };
}

/** One warm-up round, then `rounds` timed ones; the median round by rate. */
export async function medianOf(
  rounds: number,
  runRound: () => Promise<Timing>,
): Promise<Timing> {
  await runRound();
  const results: Timing[] = [];
  for (let i = 0; i < rounds; i++) results.push(await runRound());
  results.sort((a, b) => a.ops_per_s - b.ops_per_s);
  return results[Math.floor(results.length / 2)]!;
}
