/**
 * The Kafka bus (SPEC §3): a topic per table, the JSON of the row key as message key, the
 * envelope JSON as value. A publish resolves only once Kafka has acknowledged every message of
 * it, so the listener confirms a source position only then.
 *
 * Followers (gateways) each read every topic of the prefix with a consumer group of their own and
 * keep their own positions; cursors are Kafka offsets, so any gateway can resume any cursor.
 * The roles live in lib/kafka: admin (topics, offsets), producer, consumer (followers, readers).
 */
import type { Kafka } from "kafkajs";
import { KafkaAdmin } from "../kafka/admin.ts";
import { kafkaClient } from "../kafka/client.ts";
import { KafkaFollower, readRange } from "../kafka/consumer.ts";
import { kafkajsSender, KafkaProducer } from "../kafka/producer.ts";
import { platformaticSender } from "../kafka/producer_platformatic.ts";
import { SyncError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { KafkaClientName } from "../config.ts";
import type { KafkaLayout } from "../kafka/layout.ts";
import { backoffDelay, classifyFailure, sleep } from "../retry.ts";
import type { Bus, BusMessage, BusRecord, Channel, Offsets, RecordsHandler } from "./bus.ts";

export interface KafkaBusOptions {
  brokers: string[];
  topicPrefix: string;
  clientId: string;
  /** Partitions of the topics SyncHub creates. */
  partitions: number;
  /** Retention of the topics SyncHub creates: how long cursors stay valid. */
  retentionMs: number;
  log: Logger;
  /** How often followers look for new topics. */
  topicRefreshMs?: number;
  /** How envelopes lie on the topics (SPEC §11); default plain JSON with tombstones. */
  layout?: KafkaLayout;
  /** The library that produces (KAFKA_CLIENT); default kafkajs. Admin and consumers use kafkajs. */
  client?: KafkaClientName;
}

export class KafkaBus implements Bus {
  readonly transport = "kafka" as const;
  private readonly kafka: Kafka;
  private readonly admin: KafkaAdmin;
  private readonly producer: KafkaProducer;
  private connecting: Promise<void> | undefined;
  private healthy = false;
  private closed = false;
  private readonly followers = new Set<KafkaFollower>();
  private health: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly opts: KafkaBusOptions) {
    this.kafka = kafkaClient(opts);
    this.admin = new KafkaAdmin(this.kafka, opts, opts.log);
    const sender = opts.client === "platformatic"
      ? () => platformaticSender(opts)
      : () => kafkajsSender(this.kafka);
    this.producer = new KafkaProducer(sender, async (topics) => {
      await this.connect();
      for (const topic of topics) await this.ensureTopic(topic);
    }, opts.layout);
  }

  get epoch(): string {
    const id = this.admin.clusterId;
    if (!id) throw new SyncError("unavailable", "the Kafka bus is not connected yet");
    return `kafka:${id}`;
  }

  /** Connects, retrying with back-off until Kafka answers or the signal aborts. */
  connect(signal?: AbortSignal): Promise<void> {
    return this.connecting ??= (async () => {
      for (let attempt = 0; !this.closed && !signal?.aborted; attempt++) {
        try {
          await this.admin.connect();
          await this.producer.connect();
          this.healthy = true;
          this.health = setInterval(async () => this.healthy = await this.admin.alive(), 5_000);
          this.opts.log.info("connected to Kafka", {
            brokers: this.opts.brokers,
            cluster: this.admin.clusterId,
          });
          return;
        } catch (err) {
          const delay = backoffDelay(classifyFailure(err), attempt);
          this.opts.log.warn("Kafka unreachable; retrying", {
            brokers: this.opts.brokers,
            retryInMs: delay,
            err,
          });
          await sleep(delay, signal);
        }
      }
      throw new SyncError("unavailable", "the Kafka bus was closed before it connected");
    })().finally(() => {
      if (!this.healthy) this.connecting = undefined;
    });
  }

  async publish(messages: readonly BusMessage[], channel?: Channel): Promise<void> {
    if (this.closed) throw new SyncError("unavailable", "bus is closed");
    if (messages.length === 0) return;
    try {
      await this.producer.publish(messages, channel);
      this.healthy = true;
    } catch (err) {
      this.healthy = false;
      throw err;
    }
  }

  /** Creates the topic when missing (idempotent), and tells followers to pick it up. */
  async ensureTopic(topic: string, opts: { compacted?: boolean } = {}): Promise<void> {
    await this.connect();
    if (await this.admin.ensureTopic(topic, opts)) {
      for (const f of this.followers) f.refreshSoon();
    }
  }

  async follow(
    onRecords: RecordsHandler,
    signal: AbortSignal,
  ): Promise<ReadonlyMap<string, Offsets>> {
    await this.connect(signal);
    const start = new Map<string, Offsets>();
    for (const topic of await this.prefixTopics()) start.set(topic, (await this.range(topic)).end);
    const follower = new KafkaFollower(this.kafka, onRecords, start, {
      log: this.opts.log,
      topics: () => this.prefixTopics(),
      ...(this.opts.topicRefreshMs ? { topicRefreshMs: this.opts.topicRefreshMs } : {}),
    });
    this.followers.add(follower);
    signal.addEventListener("abort", () => {
      this.followers.delete(follower);
      follower.stop();
    }, { once: true });
    await follower.start();
    return start;
  }

  async range(topic: string): Promise<{ start: Offsets; end: Offsets }> {
    await this.connect();
    return await this.admin.range(topic);
  }

  async *read(topic: string, from: Offsets, to: Offsets): AsyncIterable<readonly BusRecord[]> {
    const { start } = await this.range(topic);
    if (start.some((s, p) => (from[p] ?? 0) < s)) {
      throw new SyncError("cursor_expired", "the cursor is older than the retained history");
    }
    const wanted = to.map((end, p) => ({ p, from: from[p] ?? 0, end })).filter((w) =>
      w.from < w.end
    );
    if (wanted.length === 0) return;
    yield* readRange(this.kafka, topic, wanted, this.opts.log);
  }

  ready(): boolean {
    return this.healthy && !this.closed && [...this.followers].every((f) => f.running);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.health);
    for (const f of this.followers) f.stop();
    this.followers.clear();
    await this.producer.disconnect();
    await this.admin.disconnect();
  }

  /** Topics of our prefix, as Kafka lists them now. */
  async prefixTopics(): Promise<string[]> {
    await this.connect();
    return await this.admin.topicsWithPrefix(this.opts.topicPrefix);
  }
}
