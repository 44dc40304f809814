/**
 * `deno task dev`: the whole hub in one process. Without DATABASE_URL it starts an embedded
 * PostgreSQL under `.data/`; it applies migrations, joins listener, gateway and CRUD with the
 * in-process bus, and prints the URLs and a dev token for each of two demo buckets.
 */
import { MemoryBus } from "../../lib/bus/memory_bus.ts";
import { type Config, loadConfig } from "../../lib/config.ts";
import { signToken } from "../../lib/jwt.ts";
import { createLogger } from "../../lib/log.ts";
import { startEmbeddedPostgres } from "../../lib/postgres/embedded.ts";
import { migrate } from "../../lib/postgres/migrate.ts";
import { runMain, shutdownSignal } from "../../lib/shutdown.ts";
import { serveCrud } from "../crud/crud.ts";
import { serveGateway } from "../gateway/run.ts";
import { serveListener } from "../listener/run.ts";

const DEMO_BUCKETS = ["demo-a", "demo-b"];

await runMain(async () => {
  const config = loadConfig();
  const log = createLogger("dev", config.logLevel);
  const shutdown = shutdownSignal();
  const stops: (() => Promise<void>)[] = [];

  if (config.kafka) {
    throw new Error(
      "KAFKA_BROKERS is set, but this build joins the services with the in-process bus only; " +
        "unset KAFKA_BROKERS to run the hub in one process",
    );
  }

  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const pg = await startEmbeddedPostgres({
      dataDir: `${await Deno.realPath(await ensureDir(config.dataDir))}/postgres`,
      port: config.embeddedPostgresPort,
      cacheDir: config.cacheDir,
      log: log.child("postgres"),
    });
    stops.push(() => pg.stop());
    await pg.createDatabase("synchub");
    databaseUrl = pg.url("synchub");
  }
  const jwtSecret = config.jwtSecret ?? await devSecret(config);

  try {
    await migrate(databaseUrl, {
      publication: config.postgres.publication,
      publicationTables: config.postgres.publicationTables,
      log,
    });
    const bus = new MemoryBus({
      retentionMs: config.cursorRetentionMs,
      maxBytes: config.memoryBusMaxBytes,
    });
    stops.push(() => bus.close());
    const listener = serveListener({ config, databaseUrl, bus, log: log.child("listener") });
    stops.push(() => listener.stop());
    const gateway = await serveGateway({
      config,
      databaseUrl,
      jwtSecret,
      bus,
      log: log.child("gateway"),
    });
    stops.push(() => gateway.stop());
    const crud = serveCrud({ config, databaseUrl, jwtSecret, log: log.child("crud") });
    stops.push(() => crud.stop());

    const tokens = await Promise.all(
      DEMO_BUCKETS.map((b) => signToken(jwtSecret, { sub: `dev-${b}`, buckets: [b] }, 24 * 3600)),
    );
    const ws = gateway.url.replace(/^http/, "ws");
    console.log(`
SyncHub is running (Ctrl-C stops everything)

  REST API    ${crud.url}/v1/tables/todos/rows
  WebSocket   ${ws}/v1/ws
  Listener    ${listener.url}/metrics
  PostgreSQL  ${databaseUrl}${
      config.databaseUrl ? "" : "   (embedded, data in " + config.dataDir + "/postgres)"
    }

Dev tokens, valid 24 h:
${DEMO_BUCKETS.map((b, i) => `  ${b}: ${tokens[i]}`).join("\n")}

Try it:
  export TOKEN=${tokens[0]}
  curl -s -X POST ${crud.url}/v1/tables/todos/rows -H "authorization: Bearer $TOKEN" \\
       -H 'content-type: application/json' -d '{"title":"buy milk"}'
  # and watch it arrive: connect to ${ws}/v1/ws?token=$TOKEN and send
  # {"type":"subscribe","ref":"1","table":"public.todos"}
`);
    const signal = await shutdown;
    log.info("stopping", { signal });
  } finally {
    for (const stop of stops.reverse()) {
      await stop().catch((err) => log.warn("stop failed", { err }));
    }
  }
});

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
  const secret = Array.from(
    crypto.getRandomValues(new Uint8Array(32)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
  await Deno.writeTextFile(path, secret, { mode: 0o600 });
  return secret;
}
