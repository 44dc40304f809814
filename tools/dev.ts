/**
 * `deno task dev`: the whole hub locally. Without DATABASE_URL it starts an embedded PostgreSQL
 * under `.data/` and applies migrations. Without KAFKA_BROKERS the three services run in this
 * process joined by the in-process bus; with it, as three processes joined by Kafka. It prints
 * the URLs and a dev token for each of two demo buckets; Ctrl-C stops everything. With
 * SYNC_CONFIG set, the database-to-database sync service runs in this process too (SPEC §8).
 */
import type { Bus } from "../lib/bus/bus.ts";
import { busFromConfig } from "../lib/bus/from_config.ts";
import { MemoryBus } from "../lib/bus/memory_bus.ts";
import { HubEvents } from "../lib/events.ts";
import type { AccessPolicy } from "../lib/access.ts";
import { policyFromConfig } from "../lib/access_policy.ts";
import { type Config, environment, loadConfig } from "../lib/config.ts";
import { signToken } from "../lib/jwt.ts";
import { createLogger, type Logger } from "../lib/log.ts";
import { startEmbeddedPostgres } from "./servers/postgres.ts";
import { migrate } from "../lib/postgres/migrate.ts";
import { sleep } from "../lib/retry.ts";
import { runMain, shutdownSignal, stopStep } from "../lib/shutdown.ts";
import { taskCommand } from "./tasks.ts";
import { DEV_ORIGINS } from "../services/crud/cors.ts";
import { serveCrud } from "../services/crud/service.ts";
import { serveGateway } from "../services/gateway/service.ts";
import { serveListener } from "../services/listener/service.ts";
import { loadSyncConfig } from "../services/sync/config.ts";
import { startSync } from "../services/sync/service.ts";

const DEMO_BUCKETS = ["demo-a", "demo-b"];

interface Urls {
  crud: string;
  gateway: string;
  listener: string;
  /** The in-process bus, shared with the sync service for hub events. */
  bus?: Bus;
}

await runMain(async () => {
  const config = loadConfig();
  const log = createLogger("dev", config.logLevel);
  const shutdown = shutdownSignal();
  const policy = await policyFromConfig(config);
  const stops: (() => Promise<void>)[] = [];
  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const pg = await startEmbeddedPostgres({
        dataDir: `${await Deno.realPath(await ensureDir(config.dataDir))}/postgres`,
        port: config.embeddedPostgresPort,
        cacheDir: config.cacheDir,
        log: log.child("postgres"),
      });
      stops.push(() => stopStep("embedded PostgreSQL", () => pg.stop()));
      await pg.createDatabase("synchub");
      databaseUrl = pg.url("synchub");
    }
    const jwtSecret = config.jwtSecret ?? await devSecret(config);
    await migrate(databaseUrl, {
      publication: config.postgres.publication,
      publicationTables: config.postgres.publicationTables,
      log,
    });

    const urls = config.kafka
      ? await runAsProcesses(config, databaseUrl, jwtSecret, log, stops)
      : await runInProcess(config, policy, databaseUrl, jwtSecret, log, stops);
    await waitReady(`${urls.gateway}/ready`, log);
    // --- sync service (SPEC §8): only with SYNC_CONFIG; its own databases, the hub's bus for
    // hub events (SPEC §10).
    let syncUrl: string | undefined;
    if (config.sync.configPath) {
      const { config: sync, document, path } = await loadSyncConfig(environment());
      const stopSync = new AbortController();
      // In process the hub's own bus; over Kafka a producer of the sync's own.
      const bus = urls.bus ?? busFromConfig(config, "sync", log);
      if (!urls.bus) {
        bus.connect(stopSync.signal).catch(() => {});
        stops.push(() => stopStep("sync: bus", () => bus.close()));
      }
      const service = await startSync({
        config: sync,
        source: { path, document }, // PUT /api/v1/config writes the file back
        log: log.child("sync"),
        host: config.host,
        env: environment,
        jwtSecret, // the admin token printed below opens the control API and the dashboard
        events: new HubEvents(bus, config.topicPrefix, log.child("events")),
      }, stopSync.signal);
      stops.push(() => stopStep("sync", () => (stopSync.abort(), service.stop())));
      syncUrl = service.url;
    }
    // --- end sync service
    await banner(urls, databaseUrl, config, jwtSecret);
    if (syncUrl) {
      console.log(`  Sync        ${syncUrl}/api/v1   (SYNC_CONFIG=${config.sync.configPath})\n`);
    }
    log.info("stopping", { signal: await shutdown });
  } finally {
    for (const stop of stops.reverse()) {
      await stop().catch((err) => log.warn("stop failed", { err }));
    }
  }
});

async function runInProcess(
  config: Config,
  policy: AccessPolicy,
  databaseUrl: string,
  jwtSecret: string,
  log: Logger,
  stops: (() => Promise<void>)[],
): Promise<Urls> {
  const bus = new MemoryBus({
    retentionMs: config.cursorRetentionMs,
    maxBytes: config.memoryBusMaxBytes,
  });
  stops.push(() => stopStep("in-process bus", () => bus.close()));
  const listener = serveListener({
    config,
    policy,
    databaseUrl,
    bus,
    log: log.child("listener"),
  });
  stops.push(() => listener.stop());
  const gateway = await serveGateway({
    config,
    policy,
    jwtSecret,
    bus,
    snapshots: listener.snapshots,
    databaseUrl,
    log: log.child("gateway"),
  });
  stops.push(() => gateway.stop());
  const crud = serveCrud({
    config: withDevCors(config),
    policy,
    databaseUrl,
    jwtSecret,
    bus,
    log: log.child("crud"),
    // SPEC §9: the demo page's "use dev token" button.
    devToken: () => signToken(jwtSecret, { sub: "dev-demo-a", buckets: ["demo-a"] }, 24 * 3600),
  });
  stops.push(() => crud.stop());
  return { crud: crud.url, gateway: gateway.url, listener: listener.url, bus };
}

/** The distributed layout on one machine: `deno task crud|listener|gateway`, joined by Kafka. */
async function runAsProcesses(
  config: Config,
  databaseUrl: string,
  jwtSecret: string,
  log: Logger,
  stops: (() => Promise<void>)[],
): Promise<Urls> {
  const shown = config.host === "0.0.0.0" ? "127.0.0.1" : config.host;
  for (const service of ["listener", "gateway", "crud"] as const) {
    const { flags, entry } = taskCommand(service); // what `deno task <service>` runs
    const child = new Deno.Command(Deno.execPath(), {
      args: [...flags, entry],
      env: {
        DATABASE_URL: databaseUrl,
        JWT_SECRET: jwtSecret,
        CORS_ORIGINS: withDevCors(config).crud.corsOrigins.join(","),
      },
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    log.info("started service process", { service, pid: child.pid });
    stops.push(() =>
      stopStep(`${service} process`, async () => {
        try {
          child.kill("SIGTERM");
        } catch { /* already gone */ }
        await child.status;
      })
    );
  }
  const url = (port: number) => `http://${shown}:${port}`;
  const urls = {
    crud: url(config.ports.crud),
    gateway: url(config.ports.gateway),
    listener: url(config.ports.listener),
  };
  await waitReady(`${urls.crud}/ready`, log);
  await waitReady(`${urls.listener}/ready`, log);
  return urls;
}

/** In dev, pages on any local port may call the API unless CORS_ORIGINS says otherwise. */
function withDevCors(config: Config): Config {
  if (config.crud.corsOrigins.length > 0) return config;
  return { ...config, crud: { ...config.crud, corsOrigins: DEV_ORIGINS } };
}

async function waitReady(url: string, log: Logger): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const ok = await fetch(url).then((r) => {
      r.body?.cancel();
      return r.ok;
    }, () => false);
    if (ok) return;
    if (i === 50) log.warn("still waiting for a service to be ready", { url });
    await sleep(100);
  }
  log.warn("a service is not ready; starting anyway (see its /ready)", { url });
}

async function banner(
  urls: Urls,
  databaseUrl: string,
  config: Config,
  jwtSecret: string,
): Promise<void> {
  const tokens = await Promise.all(
    DEMO_BUCKETS.map((b) => signToken(jwtSecret, { sub: `dev-${b}`, buckets: [b] }, 24 * 3600)),
  );
  // The dev token: an admin's, which may do everything (SPEC §7).
  const admin = await signToken(
    jwtSecret,
    { sub: "dev-admin", buckets: [...DEMO_BUCKETS], role: "admin" },
    24 * 3600,
  );
  const ws = urls.gateway.replace(/^http/, "ws");
  const embedded = config.databaseUrl ? "" : `   (embedded, data in ${config.dataDir}/postgres)`;
  console.log(`
SyncHub is running (Ctrl-C stops everything)

  REST API    ${urls.crud}/v1/tables/todos/rows
  Demo app    ${urls.crud}/demo/   (SDK: ${urls.crud}/sdk/synchub.js)
  WebSocket   ${ws}/v1/ws
  Listener    ${urls.listener}/metrics
  PostgreSQL  ${databaseUrl}${embedded}
  Bus         ${
    config.kafka
      ? `Kafka at ${config.kafka.brokers.join(",")}, one process per service`
      : "in-process"
  }

Dev token (admin), valid 24 h:
  ${admin}
Tokens of one bucket each (they see only their bucket's rows):
${DEMO_BUCKETS.map((b, i) => `  ${b}: ${tokens[i]}`).join("\n")}

Try it:
  export TOKEN=${tokens[0]}
  curl -s -X POST ${urls.crud}/v1/tables/todos/rows -H "authorization: Bearer $TOKEN" \\
       -H 'content-type: application/json' -d '{"title":"buy milk"}'
  # and watch it arrive: connect to ${ws}/v1/ws?token=$TOKEN and send
  # {"type":"subscribe","ref":"1","table":"public.todos"}
`);
}

async function ensureDir(dir: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.chmod(dir, 0o755); // the embedded server may run as another user below it
  return dir;
}

/** A secret kept in the data directory, so dev tokens outlive a restart. Never for production. */
async function devSecret(config: Config): Promise<string> {
  const path = `${config.dataDir}/dev-jwt-secret`;
  try {
    const existing = (await Deno.readTextFile(path)).trim();
    if (existing.length >= 32) return existing;
  } catch { /* first run */ }
  await ensureDir(config.dataDir);
  const secret = Array.from(
    crypto.getRandomValues(new Uint8Array(32)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
  await Deno.writeTextFile(path, secret, { mode: 0o600 });
  return secret;
}
