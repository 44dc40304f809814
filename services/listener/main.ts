/**
 * `deno task listener`: the listener alone, publishing to Kafka. Needs DATABASE_URL, KAFKA_BROKERS
 * and JWT_SECRET (it serves snapshots to gateways that present a service token).
 */
import { busFromConfig } from "../../lib/bus/from_config.ts";
import { policyFromConfig } from "../../lib/access_policy.ts";
import { loadConfig } from "../../lib/config.ts";
import { createLogger } from "../../lib/log.ts";
import { runMain, shutdownSignal } from "../../lib/shutdown.ts";
import { serveListener } from "./service.ts";

await runMain(async () => {
  const config = loadConfig(["database", "kafka", "jwt"]);
  const log = createLogger("listener", config.logLevel);
  const shutdown = shutdownSignal();
  const policy = await policyFromConfig(config);
  const bus = busFromConfig(config, "listener", log);
  const listener = serveListener({
    config,
    policy,
    databaseUrl: config.databaseUrl!,
    jwtSecret: config.jwtSecret,
    bus,
    log,
  });
  log.info("stopping", { signal: await shutdown });
  await listener.stop();
  await bus.close();
});
