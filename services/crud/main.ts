/**
 * `deno task crud`: the REST API alone. Needs DATABASE_URL and JWT_SECRET; with KAFKA_BROKERS its
 * hub events and cursors are those of the Kafka the other services use.
 */
import { policyFromConfig } from "../../lib/access_policy.ts";
import { busFromConfig } from "../../lib/bus/from_config.ts";
import { loadConfig } from "../../lib/config.ts";
import { createLogger } from "../../lib/log.ts";
import { migrate } from "../../lib/postgres/migrate.ts";
import { runMain, shutdownSignal } from "../../lib/shutdown.ts";
import { serveCrud } from "./service.ts";

await runMain(async () => {
  const config = loadConfig(["database", "jwt"]);
  const log = createLogger("crud", config.logLevel);
  const shutdown = shutdownSignal();
  const policy = await policyFromConfig(config);
  await migrate(config.databaseUrl!, {
    publication: config.postgres.publication,
    publicationTables: config.postgres.publicationTables,
    log,
  });
  const bus = busFromConfig(config, "crud", log);
  const crud = serveCrud({
    config,
    policy,
    databaseUrl: config.databaseUrl!,
    jwtSecret: config.jwtSecret!,
    log,
    bus,
  });
  log.info("stopping", { signal: await shutdown });
  await crud.stop();
  await bus.close();
});
