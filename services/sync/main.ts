/**
 * `deno task sync`: the database-to-database sync service (SPEC §8). Reads SYNC_CONFIG, opens
 * both databases and the state store, serves /health, /ready and /metrics on SYNC_PORT (or
 * server.port), and on its first start runs one batch by itself.
 */
import { createLogger, type LogLevel } from "../../lib/log.ts";
import { runMain, shutdownSignal } from "../../lib/shutdown.ts";
import { loadSyncConfig } from "./config.ts";
import { startSync } from "./service.ts";

await runMain(async () => {
  // The composition root: the one place here that reads the environment.
  const env = Deno.env.toObject();
  const { config, path } = await loadSyncConfig(env);
  const level = (["debug", "info", "warn", "error"].includes(env.LOG_LEVEL ?? "")
    ? env.LOG_LEVEL
    : "info") as LogLevel;
  const log = createLogger("sync", level);
  log.info("configuration loaded", {
    path,
    mode: config.sync.mode,
    tables: config.sync.tables.length,
    state_storage: config.state_storage.type,
  });
  const shutdown = shutdownSignal();
  const stop = new AbortController();
  const service = await startSync(
    { config, log, host: env.HOST?.trim() || "127.0.0.1" },
    stop.signal,
  );
  log.info("stopping", { signal: await shutdown });
  stop.abort();
  await service.stop();
});
