/** The bus a service uses: Kafka when KAFKA_BROKERS is set, else the in-process log. */
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { Bus } from "./bus.ts";
import { KafkaBus } from "./kafka_bus.ts";
import { MemoryBus } from "./memory_bus.ts";

export function busFromConfig(config: Config, service: string, log: Logger): Bus {
  if (!config.kafka) {
    return new MemoryBus({
      retentionMs: config.cursorRetentionMs,
      maxBytes: config.memoryBusMaxBytes,
    });
  }
  return new KafkaBus({
    brokers: config.kafka.brokers,
    topicPrefix: config.kafka.topicPrefix,
    partitions: config.kafka.partitions,
    retentionMs: config.cursorRetentionMs,
    clientId: `synchub-${service}`,
    log: log.child("kafka"),
    layout: config.kafkaLayout,
    client: config.kafkaClient,
  });
}
