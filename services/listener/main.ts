/** `deno task listener`: the listener alone, joined to the other services through Kafka. */
import { loadConfig } from "../../lib/config.ts";
import { runMain } from "../../lib/shutdown.ts";

await runMain(() => {
  const config = loadConfig(["database"]);
  if (!config.kafka) {
    throw new Error(
      "the standalone listener reaches the other services through Kafka: set KAFKA_BROKERS, or run " +
        "all three services in one process with `deno task dev`",
    );
  }
  throw new Error("KAFKA_BROKERS is set, but this build has no Kafka bus yet; use `deno task dev`");
});
