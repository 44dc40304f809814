/**
 * The sync service running realtime between two real databases, for the end-to-end tests: in
 * this process (`startSync`) or as `deno run services/sync/main.ts` (for kill -9), with a SQLite
 * state store in a temporary directory and an instance name of its own.
 */
import assert from "node:assert/strict";
import { silentLogger } from "../../lib/log.ts";
import { type SyncConfig, validateSyncConfig } from "../../services/sync/config.ts";
import { startSync, type SyncService } from "../../services/sync/service.ts";
import { openSqliteStore } from "../../services/sync/state_store/sqlite.ts";
import type { StateStore } from "../../services/sync/state_store/store.ts";
import { stopChild } from "../../tools/servers/process.ts";
import type { SideDb } from "./sync.ts";
import { waitFor } from "./wait.ts";

export interface LiveSync {
  readonly config: SyncConfig;
  readonly service: SyncService;
  readonly dir: string;
  /** Opens the state store (close it after use). */
  store(): Promise<StateStore>;
  stop(): Promise<void>;
}

export function syncConfigFor(
  sides: Record<"local" | "cloud", SideDb>,
  dir: string,
  sync: Record<string, unknown>,
): Record<string, unknown> {
  return {
    databases: { local: { url: sides.local.url }, cloud: { url: sides.cloud.url } },
    state_storage: { type: "sqlite", path: `${dir}/state.db` },
    sync: {
      mode: "bidirectional",
      instance: `t${crypto.randomUUID().slice(0, 8)}`,
      workers: 4,
      ...sync,
    },
    server: { port: 0 },
  };
}

/** Starts the service in this process and waits until realtime capture streams on every side. */
export async function liveSync(
  sides: Record<"local" | "cloud", SideDb>,
  sync: Record<string, unknown>,
  opts: { dir?: string; config?: Record<string, unknown> } = {},
): Promise<LiveSync> {
  const dir = opts.dir ?? await Deno.makeTempDir({ prefix: "sync-live-" });
  const config = validateSyncConfig(opts.config ?? syncConfigFor(sides, dir, sync), {});
  const stop = new AbortController();
  const service = await startSync({ config, log: silentLogger, host: "127.0.0.1" }, stop.signal);
  await service.firstRun;
  await waitFor(() => service.realtime.state().running, "realtime capture to stream", 60_000);
  let stopped: Promise<void> | undefined;
  return {
    config,
    service,
    dir,
    store: () => openSqliteStore(`${dir}/state.db`),
    stop() {
      stop.abort();
      return stopped ??= service.stop();
    },
  };
}

/** Every conflict the service has recorded, resolved or not. */
export async function storedConflicts(live: LiveSync) {
  const store = await live.store();
  try {
    return (await store.listConflicts({ status: "all" })).conflicts;
  } finally {
    await store.close();
  }
}

/** Own writes seen coming back and dropped, both directions together (from `/metrics`). */
export async function echoes(live: { service: { url: string } }): Promise<number> {
  const text = await fetch(`${live.service.url}/metrics`).then((r) => r.text());
  let n = 0;
  for (
    const m of text.matchAll(
      /synchub_sync_realtime_changes_total\{[^}]*outcome="echo"[^}]*\} (\d+)/g,
    )
  ) n += Number(m[1]);
  return n;
}

/**
 * Fifty quick updates of one row on local, synced both ways, never come back: checked with a
 * sentinel change of the same row on cloud, which travels behind every echo of the sync's writes
 * to cloud (same log, same key, same worker) — once it is on local, any echo was handled. `now`
 * is the engine's current-time expression.
 */
export async function assertNoPingPong(
  s: Record<"local" | "cloud", SideDb>,
  live: LiveSync,
  now: string,
): Promise<void> {
  await s.local.sql("INSERT INTO items (id, v) VALUES (1, 'a')");
  for (let i = 0; i < 50; i++) {
    await s.local.sql(`UPDATE items SET n = ${i + 1}, updated_at = ${now} WHERE id = 1`);
  }
  await waitEqual(s, ["items"]);
  await s.cloud.sql(`UPDATE items SET v = 'sentinel', updated_at = ${now} WHERE id = 1`);
  await waitFor(
    async () => (await s.local.sql("SELECT v FROM items WHERE id = 1"))[0]?.v === "sentinel",
    "the sentinel on local",
  );
  assert.equal(await syncTransactions(s.local, "cloud_to_local"), 1, "only the sentinel");
  assert.deepEqual(await storedConflicts(live), []);
  await waitEqual(s, ["items"]);
  assert.ok((await echoes(live)) >= 1);
}

/** Every row of a table, ordered by `id`, as JSON text (for comparing two sides). */
export async function tableRows(side: SideDb, table: string): Promise<string> {
  return JSON.stringify(await side.sql(`SELECT * FROM ${table} ORDER BY id`));
}

/** Waits until both sides hold the same rows of each table. */
export async function waitEqual(
  sides: Record<"local" | "cloud", SideDb>,
  tables: readonly string[],
  timeoutMs = 60_000,
): Promise<void> {
  await waitFor(
    async () => {
      for (const t of tables) {
        if (await tableRows(sides.local, t) !== await tableRows(sides.cloud, t)) return false;
      }
      return true;
    },
    `equal ${tables.join(", ")} on both sides`,
    timeoutMs,
  );
}

/** Transactions the sync applied to a side (its marker rows count them), per direction. */
export async function syncTransactions(side: SideDb, direction: string): Promise<number> {
  const rows = await side.sql(
    `SELECT COALESCE(SUM(txn), 0) AS n FROM synchub_sync_marker WHERE direction = '${direction}'`,
  );
  return Number(rows[0]?.n ?? 0);
}

/** The sync service as its own process (`deno run services/sync/main.ts`), for kill -9. */
export class SyncProcess {
  private child: Deno.ChildProcess | undefined;
  readonly logs: string[] = [];

  constructor(private readonly configPath: string, private readonly dataDir: string) {}

  start(): void {
    const { RUST_BACKTRACE: _, ...env } = Deno.env.toObject();
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../../services/sync/main.ts", import.meta.url).pathname],
      env: { ...env, SYNC_CONFIG: this.configPath, DATA_DIR: this.dataDir, LOG_LEVEL: "info" },
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    void this.collect(this.child);
  }

  /** Lines logged so far that match. */
  logged(pattern: RegExp): string[] {
    return this.logs.filter((l) => pattern.test(l));
  }

  kill9(): Promise<Deno.CommandStatus> {
    const child = this.child!;
    child.kill("SIGKILL");
    return child.status;
  }

  async stop(): Promise<void> {
    if (this.child) await stopChild(this.child, "SIGTERM", 10_000);
  }

  private async collect(child: Deno.ChildProcess): Promise<void> {
    let buffer = "";
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      buffer += text;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        this.logs.push(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
      }
    }
  }
}
