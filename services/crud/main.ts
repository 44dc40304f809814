/** `deno task crud`: the REST API alone. Needs DATABASE_URL and JWT_SECRET. */
import { policyFromConfig } from "../../lib/access_policy.ts";
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
  const crud = serveCrud({
    config,
    policy,
    databaseUrl: config.databaseUrl!,
    jwtSecret: config.jwtSecret!,
    log,
  });
  log.info("stopping", { signal: await shutdown });
  await crud.stop();
});
