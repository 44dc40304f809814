/**
 * The checkpoint writer's process (started by writer_process.ts, never by hand): reads its job
 * as one JSON line on stdin, writes the file, and reports one JSON line per step on stdout.
 * Its tables are the service's catalog entries; it learns the database's user-defined array
 * types, so rows decode exactly as the service's do.
 */
import { createLogger } from "../../../lib/log.ts";
import { learnUserArrayTypes } from "../../../lib/postgres/catalog.ts";
import { createPool } from "../../../lib/postgres/pool.ts";
import { SyncError } from "../../../lib/errors.ts";
import { jobTables, writeCheckpoint, type WriteJob, type WriterMessage } from "./writer.ts";

export interface WriterInput {
  job: WriteJob;
  databaseUrl: string;
}

const encoder = new TextEncoder();
const say = async (m: WriterMessage) => {
  const line = encoder.encode(JSON.stringify(m) + "\n");
  for (let at = 0; at < line.length;) at += await Deno.stdout.write(line.subarray(at));
};

const stop = new AbortController();
Deno.addSignalListener("SIGTERM", () => {
  stop.abort(new Error("stopped"));
  setTimeout(() => Deno.exit(1), 2_000); // a query that does not end: go anyway
});

let input: WriterInput | undefined;
let code = 0;
try {
  input = JSON.parse(await readLine()) as WriterInput;
  const log = createLogger("checkpoint-writer", "warn");
  const pool = createPool(input.databaseUrl, {
    log,
    max: 1,
    applicationName: "synchub-checkpoint",
  });
  try {
    await learnUserArrayTypes(pool);
    await writeCheckpoint(pool, jobTables(input.job), input.job, say, stop.signal);
  } finally {
    await pool.end();
  }
} catch (err) {
  code = 1;
  // SyncErrors are for clients; anything else is detail for the service's log (stderr).
  const message = err instanceof SyncError && err.code !== "internal"
    ? err.message
    : stop.signal.aborted
    ? "interrupted: the service stopped"
    : "the checkpoint could not be written (see the service log)";
  if (!(err instanceof SyncError)) console.error(err);
  await say({ type: "failed", message }).catch(() => {});
}
Deno.exit(code);

async function readLine(): Promise<string> {
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of Deno.stdin.readable) {
    text += decoder.decode(chunk, { stream: true });
    const end = text.indexOf("\n");
    if (end >= 0) return text.slice(0, end);
  }
  return text;
}
