/**
 * `deno task sync`: the database-to-database sync service (SPEC §8). Reads SYNC_CONFIG, opens
 * both databases and the state store, serves the control API (SPEC §8.3) with /health, /ready and
 * /metrics on SYNC_PORT (or server.port), and on its first start runs one batch by itself.
 * JWT_SECRET, when set, lets hub admin tokens in besides server.auth_token. With KAFKA_BROKERS,
 * run outcomes and new conflicts go to the hub's event topics (SPEC §10).
 */
import { busFromConfig } from "../../lib/bus/from_config.ts";
import { type Config, ConfigError, environment, loadConfig } from "../../lib/config.ts";
import { HubEvents } from "../../lib/events.ts";
import { createLogger } from "../../lib/log.ts";
import { runMain, shutdownSignal } from "../../lib/shutdown.ts";
import { loadSyncConfig } from "./config.ts";
import { startSync } from "./service.ts";

await runMain(async () => {
  // Every problem at once: the environment's and the file's (its ${VAR} references expand from
  // the environment).
  let hub: Config | undefined;
  const problems: string[] = [];
  try {
    hub = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  const loaded = await loadSyncConfig(environment()).catch((err) => {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems.filter((p) => !problems.includes(p)));
    return undefined;
  });
  if (problems.length > 0 || !hub || !loaded) throw new ConfigError(problems);
  const { config, document, path } = loaded;
  const log = createLogger("sync", hub.logLevel);
  log.info("configuration loaded", {
    path,
    mode: config.sync.mode,
    tables: config.sync.tables.length,
    state_storage: config.state_storage.type,
  });
  const shutdown = shutdownSignal();
  const stop = new AbortController();
  // Hub events (SPEC §10) go to the hub's Kafka; an in-process bus here would have no reader.
  const bus = hub.kafka ? busFromConfig(hub, "sync", log) : undefined;
  bus?.connect(stop.signal).catch(() => {}); // retries until it connects or we stop
  const service = await startSync({
    config,
    source: { path, document },
    log,
    host: hub.host,
    env: environment,
    jwtSecret: hub.jwtSecret,
    events: bus && new HubEvents(bus, hub.topicPrefix, log.child("events")),
  }, stop.signal);
  log.info("stopping", { signal: await shutdown });
  stop.abort();
  await service.stop();
  await bus?.close();
});
