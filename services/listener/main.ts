/** `deno task listener`: the listener alone, publishing to Kafka. Needs DATABASE_URL and KAFKA_BROKERS. */
import { busFromConfig } from "../../lib/bus/from_config.ts";
import { loadConfig } from "../../lib/config.ts";
import { createLogger } from "../../lib/log.ts";
import { runMain, shutdownSignal } from "../../lib/shutdown.ts";
import { serveListener } from "./run.ts";

await runMain(async () => {
  const config = loadConfig(["database", "kafka"]);
  const log = createLogger("listener", config.logLevel);
  const shutdown = shutdownSignal();
  const bus = busFromConfig(config, "listener", log);
  const listener = serveListener({ config, databaseUrl: config.databaseUrl!, bus, log });
  log.info("stopping", { signal: await shutdown });
  await listener.stop();
  await bus.close();
});
