/** A kafkajs client whose log goes to ours: retried, transient trouble is ours to judge. */
import { Kafka, logLevel } from "kafkajs";
import "./quiet_warnings.ts";
import type { Logger } from "../log.ts";

export function kafkaClient(opts: { brokers: string[]; clientId: string; log: Logger }): Kafka {
  return new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    logLevel: logLevel.WARN,
    logCreator: () => ({ level, log }) => {
      const { message, ...rest } = log;
      // kafkajs reports retried, transient trouble as errors; it is ours to judge.
      if (level <= logLevel.WARN) {
        opts.log.debug(`kafkajs: ${message}`, { error: rest.error, broker: rest.broker });
      }
    },
    retry: { initialRetryTime: 200, retries: 5, maxRetryTime: 5_000 },
    connectionTimeout: 3_000,
    requestTimeout: 15_000,
  });
}
