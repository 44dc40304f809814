/**
 * The Kafka producer role: an idempotent producer with acks=all. Publishes made while a request
 * is in flight are batched into the next; each resolves when the request holding its messages is
 * acknowledged (or fails). Requests stay under Kafka's message size limit.
 *
 * Order survives failures: when a request fails, the channels of its publishes break, and their
 * publishes still waiting — and any later ones — fail without being sent. A pipeline restarts
 * from its confirmed position instead, so a row's change N+1 never lands before its change N.
 *
 * The client library is behind `KafkaSender` (KAFKA_CLIENT): kafkajs here, the design's client and
 * the default; @platformatic/kafka in producer_platformatic.ts.
 */
import type { Kafka, Producer } from "kafkajs";
import type { BusMessage, Channel } from "../bus/bus.ts";
import { SyncError } from "../errors.ts";
import { type KafkaLayout, type KafkaOut, kafkaRecordsOf, PLAIN_LAYOUT } from "./layout.ts";

/** Bytes per produce request, well under Kafka's default 1 MB message limit. */
const REQUEST_BYTES = 512 * 1024;

/** A record with the topic it goes to. */
export type TopicRecord = KafkaOut & { topic: string };

/**
 * One Kafka client's producing half: idempotent, acks=all, one request at a time. `send` resolves
 * once every record of it is acknowledged; a key's records go to the partition Java's (and
 * kafkajs's) default partitioner picks, whichever client wrote them.
 */
export interface KafkaSender {
  connect(): Promise<void>;
  send(records: readonly TopicRecord[]): Promise<void>;
  disconnect(): Promise<void>;
}

export class KafkaProducer {
  private sender: KafkaSender | undefined;
  private pending: {
    messages: readonly BusMessage[];
    channel: Channel | undefined;
    done: (err?: unknown) => void;
  }[] = [];
  private sending: Promise<void> | undefined;

  constructor(
    /** A new, unconnected sender: after a failure the old one is dropped for a fresh one. */
    private readonly newSender: () => KafkaSender,
    /** Runs before each request: makes sure its topics exist. */
    private readonly prepare: (topics: Set<string>) => Promise<void>,
    /** How envelopes lie on the topics (SPEC §11). */
    private readonly layout: KafkaLayout = PLAIN_LAYOUT,
  ) {}

  async connect(): Promise<void> {
    const old = this.sender;
    this.sender = undefined;
    await old?.disconnect().catch(() => {});
    const sender = this.newSender();
    try {
      await sender.connect();
    } catch (err) {
      await sender.disconnect().catch(() => {});
      throw err;
    }
    this.sender = sender;
  }

  publish(messages: readonly BusMessage[], channel?: Channel): Promise<void> {
    if (channel?.failure !== undefined) return Promise.reject(channel.failure);
    return new Promise((resolve, reject) => {
      this.pending.push({
        messages,
        channel,
        done: (err) => (err === undefined ? resolve() : reject(err)),
      });
      this.sending ??= this.flush();
    });
  }

  /** Waits until every publish made so far has been answered. */
  async drain(): Promise<void> {
    while (this.sending) await this.sending;
  }

  async disconnect(): Promise<void> {
    await this.drain();
    await this.sender?.disconnect().catch(() => {});
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      // A broken channel's publishes never go out: something before them did not.
      const batch = this.pending.filter((b) => {
        if (b.channel?.failure === undefined) return true;
        b.done(b.channel.failure);
        return false;
      });
      this.pending = [];
      if (batch.length === 0) continue;
      try {
        await this.send(batch.flatMap((b) => b.messages));
        for (const b of batch) b.done();
      } catch (err) {
        for (const b of batch) b.channel?.break(err);
        for (const b of batch) b.done(err);
      }
    }
    this.sending = undefined;
  }

  /** Requests go one after another, so order per topic and key is kept. */
  private async send(messages: readonly BusMessage[]): Promise<void> {
    await this.prepare(new Set(messages.map((m) => m.topic)));
    try {
      // A reconnect after a failure may have failed too (the broker still away): again, now.
      if (!this.sender) await this.connect();
      // Sized as they go out: a Connect JSON record is larger than its envelope.
      const records = messages.flatMap((m) =>
        kafkaRecordsOf(m, this.layout).map((r) => ({ ...r, topic: m.topic }))
      );
      for (const chunk of chunks(records, REQUEST_BYTES)) await this.sender!.send(chunk);
    } catch (err) {
      // An idempotent producer that failed may be fenced or out of sequence: start a new one.
      await this.connect().catch(() => {});
      throw new SyncError(
        "unavailable",
        `Kafka did not acknowledge the messages: ${(err as Error).message}`,
      );
    }
  }
}

/** The kafkajs sender: one `sendBatch` per request, its records grouped by topic. */
export function kafkajsSender(kafka: Kafka): KafkaSender {
  let producer: Producer | undefined;
  return {
    async connect() {
      producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
      });
      await producer.connect();
    },
    async send(records) {
      const byTopic = new Map<string, KafkaOut[]>();
      for (const { topic, ...record } of records) {
        let list = byTopic.get(topic);
        if (!list) byTopic.set(topic, list = []);
        list.push(record);
      }
      await producer!.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    },
    async disconnect() {
      await producer?.disconnect();
    },
  };
}

export function* chunks<M extends { key: string; value: string | null }>(
  messages: readonly M[],
  limit: number,
): Iterable<readonly M[]> {
  let start = 0, size = 0;
  for (let i = 0; i < messages.length; i++) {
    const bytes = (messages[i]!.value?.length ?? 0) + messages[i]!.key.length + 64;
    if (i > start && size + bytes > limit) {
      yield messages.slice(start, i);
      start = i;
      size = 0;
    }
    size += bytes;
  }
  if (start < messages.length) yield messages.slice(start);
}
