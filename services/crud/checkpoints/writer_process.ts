/**
 * Runs a checkpoint writer (writer_main.ts) as a child process and hands on its messages.
 *
 * Why a process: decoding a million rows makes a lot of short-lived garbage, and V8 answers it by
 * growing its heap for good — in the service that answers the API. The child has a small young
 * generation of its own (bounded memory, whatever the bucket's size), uses the other core, and is
 * gone, with all it allocated, when the checkpoint is written.
 */
import type { Logger } from "../../../lib/log.ts";
import type { WriterInput } from "./writer_main.ts";
import type { WriterMessage } from "./writer.ts";

const ENTRY = new URL("./writer_main.ts", import.meta.url).pathname;
const CONFIG = new URL("../../../deno.json", import.meta.url).pathname;
/** A small young generation: the child's RSS stays near its live data. */
const V8_FLAGS = "--max-semi-space-size=2";

export async function runWriter(
  input: WriterInput,
  onMessage: (m: WriterMessage) => Promise<void>,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      `--config=${CONFIG}`,
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-sys",
      `--v8-flags=${V8_FLAGS}`,
      ENTRY,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const kill = () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
  };
  signal.addEventListener("abort", kill, { once: true });
  try {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(JSON.stringify(input) + "\n"));
    await writer.close();
    const stderr = lines(child.stderr, (line) => log.warn("checkpoint writer", { line }));
    let last: WriterMessage | undefined;
    await lines(child.stdout, async (line) => {
      last = JSON.parse(line) as WriterMessage;
      await onMessage(last);
    });
    await stderr;
    const status = await child.status;
    if (last?.type === "done" || last?.type === "failed") return;
    await onMessage({
      type: "failed",
      message: signal.aborted
        ? "interrupted: the service stopped"
        : `the checkpoint writer exited with ${status.signal ?? status.code}`,
    });
  } finally {
    signal.removeEventListener("abort", kill);
    kill();
  }
}

/** Calls `each` with every line of a byte stream, in order, waiting for each. */
async function lines(
  stream: ReadableStream<Uint8Array>,
  each: (line: string) => Promise<void> | void,
): Promise<void> {
  let buffered = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    buffered += text;
    let end: number;
    while ((end = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      if (line.trim() !== "") await each(line);
    }
  }
  if (buffered.trim() !== "") await each(buffered);
}
