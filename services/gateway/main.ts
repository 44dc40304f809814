/**
 * `deno task gateway`: the gateway alone, following Kafka. Needs JWT_SECRET and KAFKA_BROKERS, and
 * the listener's address for snapshots (LISTENER_URL) — no source database.
 */
import { busFromConfig } from "../../lib/bus/from_config.ts";
import { policyFromConfig } from "../../lib/access_policy.ts";
import { loadConfig } from "../../lib/config.ts";
import { createLogger } from "../../lib/log.ts";
import { runMain, shutdownSignal } from "../../lib/shutdown.ts";
import { serveGateway } from "./service.ts";

await runMain(async () => {
  const config = loadConfig(["jwt", "kafka"]);
  const log = createLogger("gateway", config.logLevel);
  const shutdown = shutdownSignal();
  const policy = await policyFromConfig(config);
  const bus = busFromConfig(config, "gateway", log);
  const gateway = await serveGateway({ config, policy, jwtSecret: config.jwtSecret!, bus, log });
  log.info("stopping", { signal: await shutdown });
  await gateway.stop();
  await bus.close();
});
