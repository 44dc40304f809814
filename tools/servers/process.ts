/**
 * What the launchers of local servers (PostgreSQL, Kafka, the bench's hub) share: a free port,
 * the last lines a child printed, a stop that escalates, and `setprivAvailable`.
 */
import type { Logger } from "../../lib/log.ts";
import { sleep } from "../../lib/retry.ts";

/** A TCP port nothing listens on right now, on 127.0.0.1. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr;
  l.close();
  return port;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Logs a child's output at debug level and keeps its last lines, for error messages. */
export function collectOutput(
  child: Deno.ChildProcess,
  log: Logger,
  name: string,
  keep = 60,
): () => string {
  const lines: string[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      for (const line of chunk.split("\n").filter(Boolean)) {
        lines.push(line);
        if (lines.length > keep) lines.shift();
        log.debug(name, { line });
      }
    }
  };
  pump(child.stdout).catch(() => {});
  pump(child.stderr).catch(() => {});
  return () => lines.join("\n");
}

/** Sends `signal`, waits up to `timeoutMs` for the exit, then kills. */
export async function stopChild(child: Deno.ChildProcess, signal: Deno.Signal, timeoutMs: number) {
  try {
    child.kill(signal);
  } catch { /* already gone */ }
  const timeout = new AbortController();
  const exited = await Promise.race([
    child.status.then(() => true),
    sleep(timeoutMs, timeout.signal).then(() => false),
  ]);
  timeout.abort();
  if (!exited) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone meanwhile */ }
    await child.status;
  }
}

let setpriv: boolean | undefined;

/** Whether util-linux's `setpriv` is here (it drops privileges and sets a parent-death signal). */
export function setprivAvailable(): boolean {
  if (setpriv === undefined) {
    try {
      setpriv = new Deno.Command("setpriv", { args: ["--version"], stdout: "null", stderr: "null" })
        .outputSync().success;
    } catch {
      setpriv = false;
    }
  }
  return setpriv;
}
