/** `deno task gateway`: the gateway alone, following Kafka. Needs DATABASE_URL, JWT_SECRET, KAFKA_BROKERS. */
import { busFromConfig } from "../../lib/bus/from_config.ts";
import { loadConfig } from "../../lib/config.ts";
import { createLogger } from "../../lib/log.ts";
import { runMain, shutdownSignal } from "../../lib/shutdown.ts";
import { serveGateway } from "./run.ts";

await runMain(async () => {
  const config = loadConfig(["database", "jwt", "kafka"]);
  const log = createLogger("gateway", config.logLevel);
  const shutdown = shutdownSignal();
  const bus = busFromConfig(config, "gateway", log);
  const gateway = serveGateway({
    config,
    databaseUrl: config.databaseUrl!,
    jwtSecret: config.jwtSecret!,
    bus,
    log,
  });
  log.info("stopping", { signal: await shutdown });
  await gateway.stop();
  await bus.close();
});
