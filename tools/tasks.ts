/**
 * The arguments of a `deno task` from deno.json, so whoever starts a service as a process (the
 * dev hub over Kafka, the benchmarks) runs exactly what a user's `deno task <name>` runs, V8
 * flags included.
 */
const ROOT = new URL("..", import.meta.url).pathname;

export interface TaskCommand {
  /** Arguments to `deno` before the entry point (`run`, permissions, V8 flags). */
  readonly flags: string[];
  /** The entry point, absolute. */
  readonly entry: string;
}

export function taskCommand(task: string): TaskCommand {
  const tasks = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks as Record<
    string,
    string
  >;
  const line = tasks[task];
  if (!line) throw new Error(`deno.json has no task ${task}`);
  const [deno, ...args] = line.split(/\s+/);
  const entry = args.pop();
  if (deno !== "deno" || !entry?.endsWith(".ts")) {
    throw new Error(`task ${task} is not "deno run … <entry>.ts": ${line}`);
  }
  return { flags: args, entry: `${ROOT}${entry}` };
}
