/**
 * A real sync service with its control API for the control and dashboard tests: two PostgreSQL
 * databases, a YAML file written to a temporary directory (with a comment and a `${VAR}`
 * reference, so the write-back can be checked), a SQLite state store, port 0.
 */
import pg from "pg";
import type { HubEvents } from "../../lib/events.ts";
import { signToken } from "../../lib/jwt.ts";
import { createLogger, type Logger } from "../../lib/log.ts";
import { loadSyncConfig } from "../../services/sync/config.ts";
import type { RealtimeStatus } from "../../services/sync/control/realtime_status.ts";
import { startSync, type SyncService } from "../../services/sync/service.ts";
import { openSqliteStore } from "../../services/sync/state_store/sqlite.ts";
import { postgresSide, type SideDb } from "./sync.ts";

export const TOKEN = "control-test-token-0123456789";
export const JWT_SECRET = "k3y-for-the-sync-control-tests-6f1e2d9c8b7a";

export interface ControlHarness {
  readonly local: SideDb;
  readonly cloud: SideDb;
  readonly dir: string;
  readonly path: string;
  service: SyncService;
  /** Log lines the service wrote (JSON). */
  readonly logs: Record<string, unknown>[];
  /** fetch on the service with the token (unless `token` says otherwise). */
  api(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
  /** Stops the service and starts it again on the same file and state store. */
  restart(): Promise<void>;
  /** Stops the service (the API goes down); close() then only drops the databases. */
  stopService(): Promise<void>;
  close(): Promise<void>;
}

export interface ControlOptions {
  /** SQL run on each side first. */
  setup?: { local?: string; cloud?: string };
  /** The YAML `sync:` section's body (indented two spaces). */
  sync: string;
  /** Extra top-level YAML (scheduler, …). */
  extra?: string;
  corsOrigins?: string[];
  /** A state store with something in it: no first-start run. */
  seedStore?: boolean;
  realtime?: RealtimeStatus;
  heartbeatMs?: number;
  /** Hub events (SPEC §10) the service publishes. */
  events?: HubEvents;
}

export async function startControl(opts: ControlOptions): Promise<ControlHarness> {
  const local = await postgresSide();
  const cloud = await postgresSide();
  if (opts.setup?.local) await local.sql(opts.setup.local);
  if (opts.setup?.cloud) await cloud.sql(opts.setup.cloud);
  const dir = await Deno.makeTempDir({ prefix: "sync-control-" });
  const path = `${dir}/sync.yaml`;
  const cors = JSON.stringify(opts.corsOrigins ?? ["http://dash.example"]);
  await Deno.writeTextFile(
    path,
    `# sync under test
databases:
  local: { url: "${local.url}" }
  cloud: { url: "${cloud.url}" }   # the cloud side
state_storage: { type: sqlite, path: "${dir}/state.db" }
sync:
${opts.sync}
${
      /realtime:/.test(opts.sync)
        ? ""
        : "  realtime: false   # batch runs under test (sync_live_* test realtime)"
    }
server:
  port: 0
  auth_token: "\${SYNC_TEST_TOKEN}"   # from the environment
  cors_origins: ${cors}
${opts.extra ?? ""}`,
  );
  if (opts.seedStore) {
    const store = await openSqliteStore(`${dir}/state.db`);
    await store.setTableStatus("seed", "local_to_cloud", "idle");
    await store.close();
  }
  const env = { SYNC_CONFIG: path, SYNC_TEST_TOKEN: TOKEN };
  const logs: Record<string, unknown>[] = [];
  const log: Logger = createLogger("sync", "info", (line) => logs.push(JSON.parse(line)));
  const start = async () => {
    const { config, document } = await loadSyncConfig(env);
    return await startSync({
      config,
      source: { path, document },
      log,
      host: "127.0.0.1",
      env: () => env,
      jwtSecret: JWT_SECRET,
      ...(opts.realtime ? { realtime: opts.realtime } : {}),
      ...(opts.heartbeatMs ? { heartbeatMs: opts.heartbeatMs } : {}),
      events: opts.events,
    }, new AbortController().signal);
  };
  let running = true;
  const h: ControlHarness = {
    local,
    cloud,
    dir,
    path,
    logs,
    service: await start(),
    api(p, init = {}) {
      const { token = TOKEN, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token !== null) headers.set("authorization", `Bearer ${token}`);
      return fetch(`${h.service.url}${p}`, { ...rest, headers });
    },
    async restart() {
      await h.stopService();
      h.service = await start();
      running = true;
    },
    async stopService() {
      if (running) await h.service.stop();
      running = false;
    },
    async close() {
      await h.stopService();
      await Promise.all([local.drop(), cloud.drop()]);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  await h.service.firstRun;
  return h;
}

export const adminJwt = () => signToken(JWT_SECRET, { sub: "ops", buckets: [], role: "admin" });
export const userJwt = () => signToken(JWT_SECRET, { sub: "someone", buckets: ["*"] });

/** Holds an ACCESS EXCLUSIVE lock on a table until released: a run touching it waits. */
export async function lockTable(url: string, table: string): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query("BEGIN");
  await client.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  return async () => {
    await client.query("ROLLBACK");
    await client.end();
  };
}

/** Reads SSE frames from a response until `until` says stop (or the stream ends). */
export async function readEvents(
  res: Response,
  until: (e: SseFrame, all: SseFrame[]) => boolean,
): Promise<SseFrame[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const frames: SseFrame[] = [];
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return frames;
      buf += value;
      let at;
      while ((at = buf.indexOf("\n\n")) >= 0) {
        const frame = parseFrame(buf.slice(0, at));
        buf = buf.slice(at + 2);
        frames.push(frame);
        if (until(frame, frames)) return frames;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

export interface SseFrame {
  id?: string;
  event?: string;
  data?: unknown;
  comment?: string;
  retry?: number;
}

function parseFrame(text: string): SseFrame {
  const f: SseFrame = {};
  for (const line of text.split("\n")) {
    if (line.startsWith(":")) f.comment = line.slice(1).trim();
    else if (line.startsWith("id: ")) f.id = line.slice(4);
    else if (line.startsWith("event: ")) f.event = line.slice(7);
    else if (line.startsWith("data: ")) f.data = JSON.parse(line.slice(6));
    else if (line.startsWith("retry: ")) f.retry = Number(line.slice(7));
  }
  return f;
}
