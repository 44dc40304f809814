/**
 * `deno task kafka`: a local Apache Kafka broker (KRaft, one node) from Maven Central jars, the
 * same one the tests start. Prints its address; Ctrl-C stops it. Data stays in `.data/kafka`.
 */
import { loadConfig } from "../lib/config.ts";
import { startKafkaBroker } from "./servers/kafka.ts";
import { createLogger } from "../lib/log.ts";
import { runMain, shutdownSignal } from "../lib/shutdown.ts";

await runMain(async () => {
  const config = loadConfig();
  const log = createLogger("kafka", config.logLevel);
  const shutdown = shutdownSignal();
  await Deno.mkdir(config.dataDir, { recursive: true });
  const broker = await startKafkaBroker({
    cacheDir: config.cacheDir,
    dataDir: `${await Deno.realPath(config.dataDir)}/kafka`,
    port: config.embeddedKafkaPort,
    controllerPort: config.embeddedKafkaPort + 1,
    log,
  });
  console.log(`\nKafka is running (Ctrl-C stops it)\n\n  KAFKA_BROKERS=${broker.brokers}\n`);
  log.info("stopping", { signal: await shutdown });
  await broker.stop();
});
