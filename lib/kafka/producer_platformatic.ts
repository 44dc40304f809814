/**
 * The producing half on @platformatic/kafka (KAFKA_CLIENT=platformatic), measured beside kafkajs
 * (issue 13): the same requests, as KafkaProducer sizes them, idempotent with acks=all and one
 * request in flight. Its retries are bounded like kafkajs's (the library would retry an
 * idempotent producer forever), so a broker that is gone fails the publish and breaks its
 * channel, and the pipeline restarts from its confirmed position, as with kafkajs.
 */
import { Buffer } from "node:buffer";
import { compatibilityPartitioner, Producer } from "@platformatic/kafka";
import type { KafkaSender } from "./producer.ts";

export interface PlatformaticSenderOptions {
  brokers: string[];
  clientId: string;
}

type Text = string | null;
const text = (data?: Text) => typeof data === "string" ? Buffer.from(data) : undefined;

export function platformaticSender(opts: PlatformaticSenderOptions): KafkaSender {
  let producer: Producer<Text, Text, Text, Text> | undefined;
  return {
    async connect() {
      const fresh = producer = new Producer<Text, Text, Text, Text>({
        clientId: opts.clientId,
        bootstrapBrokers: opts.brokers,
        idempotent: true,
        autocreateTopics: false,
        // A key lands where kafkajs and Java's producer put it: one partition whichever client.
        partitioner: compatibilityPartitioner,
        serializers: { key: text, value: text, headerKey: text, headerValue: text },
        // As lib/kafka/client.ts configures kafkajs: ~6 s of retries, then the publish fails.
        retries: 5,
        retryDelay: (_client, _op, attempt) => Math.min(5_000, 200 * 2 ** (attempt - 1)),
        connectTimeout: 3_000,
        timeout: 15_000,
      });
      try {
        // The producer id now, so an unreachable broker fails connect as kafkajs's does.
        await fresh.initIdempotentProducer({});
      } catch (err) {
        throw described(err);
      }
    },
    async send(records) {
      try {
        await producer!.send({ messages: [...records] });
      } catch (err) {
        throw described(err);
      }
    },
    async disconnect() {
      // Forced: a publish that never got its answer must not keep the old producer open.
      await producer?.close(true);
    },
  };
}

/**
 * The library's errors nest (`produce failed 6 times.` holding each attempt's, each with its
 * cause): one message naming the innermost reasons, with the socket's code when there is one,
 * so logs say why and lib/retry.ts classifies a refused connection as a network failure.
 */
function described(err: unknown): Error {
  const reasons = new Set<string>();
  let code: string | undefined;
  const visit = (e: unknown, depth: number) => {
    if (!(e instanceof Error) || depth > 6) return;
    const c = (e as { code?: unknown }).code;
    if (typeof c === "string" && !c.startsWith("PLT_KFK_")) code ??= c;
    const inner = [
      ...(e instanceof AggregateError ? e.errors : []),
      ...(e.cause === undefined ? [] : [e.cause]),
    ];
    if (inner.length === 0) reasons.add(e.message);
    for (const i of inner) visit(i, depth + 1);
  };
  visit(err, 0);
  const outer = err instanceof Error ? err.message : String(err);
  const error = new Error(reasons.size ? `${outer} (${[...reasons].join("; ")})` : outer, {
    cause: err,
  });
  return code ? Object.assign(error, { code }) : error;
}
