/**
 * Kafka for the tests: the broker `deno task test` started (`SYNCHUB_TEST_KAFKA_BROKERS`), or, for
 * the fault tests, a broker of their own that they can stop and start.
 */
import { KafkaBus } from "../../lib/bus/kafka_bus.ts";
import { type KafkaClientName, type KafkaLayout, loadConfig } from "../../lib/config.ts";
import { type KafkaBroker, startKafkaBroker } from "../../tools/servers/kafka.ts";
import { freePort } from "../../tools/servers/process.ts";
import { createLogger, silentLogger } from "../../lib/log.ts";

export { freePort };

let shared: Promise<string> | undefined;

export function sharedBrokers(): Promise<string> {
  const fromTask = Deno.env.get("SYNCHUB_TEST_KAFKA_BROKERS");
  if (fromTask) return Promise.resolve(fromTask);
  return shared ??= (async () => {
    console.error(
      "SYNCHUB_TEST_KAFKA_BROKERS is not set: starting a Kafka broker for this process",
    );
    return (await ownBroker()).brokers;
  })();
}

/** A broker only this test uses, on fixed ports so it can be restarted where it was. */
export async function ownBroker(dataDir?: string, port = freePort(), controllerPort = freePort()) {
  const dir = dataDir ?? await Deno.makeTempDir({ prefix: "synchub-kafka-" });
  const start = () =>
    startKafkaBroker({
      cacheDir: loadConfig().cacheDir,
      dataDir: dir,
      port,
      controllerPort,
      log: createLogger("test-kafka", "warn"),
      heapMb: 384,
    });
  let broker: KafkaBroker = await start();
  return {
    get brokers() {
      return broker.brokers;
    },
    dir,
    port,
    stop: () => broker.stop(),
    kill: () => broker.kill(),
    restart: async () => {
      broker = await start();
    },
    remove: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}

/** A Kafka bus on its own topic prefix, so tests sharing a broker never see each other's topics. */
export function testKafkaBus(
  brokers: string,
  opts: {
    prefix?: string;
    partitions?: number;
    layout?: KafkaLayout;
    client?: KafkaClientName;
  } = {},
) {
  return new KafkaBus({
    brokers: [brokers],
    topicPrefix: opts.prefix ?? `t${crypto.randomUUID().replace(/-/g, "").slice(0, 10)}`,
    clientId: "synchub-test",
    partitions: opts.partitions ?? 1,
    retentionMs: 3_600_000,
    log: silentLogger,
    topicRefreshMs: 500,
    ...(opts.layout ? { layout: opts.layout } : {}),
    ...(opts.client ? { client: opts.client } : {}),
  });
}
