/**
 * The Kafka bus (SPEC §3): a topic per table, the JSON of the row key as message key, the
 * envelope JSON as value. An idempotent producer with acks=all; a publish resolves only once Kafka
 * has acknowledged every message of it, so the listener confirms a source position only then.
 *
 * Followers (gateways) each read every topic of the prefix with a consumer group of their own and
 * keep their own positions; cursors are Kafka offsets, so any gateway can resume any cursor.
 */
import {
  type Admin,
  type Consumer,
  Kafka,
  type KafkaMessage,
  logLevel,
  type Producer,
} from "kafkajs";
import "../kafka/quiet_warnings.ts";
import { SyncError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { backoffDelay, classifyFailure, sleep } from "../retry.ts";
import type { Bus, BusMessage, BusRecord, Offsets, RecordsHandler } from "./bus.ts";

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
}

export class KafkaBus implements Bus {
  readonly transport = "kafka" as const;
  private clusterId: string | undefined;
  private readonly kafka: Kafka;
  private admin: Admin | undefined;
  private producer: Producer | undefined;
  private connecting: Promise<void> | undefined;
  private healthy = false;
  private closed = false;
  private readonly topics = new Set<string>();
  private readonly followers = new Set<KafkaFollower>();
  private readonly outbox = new Outbox((messages) => this.send(messages));
  private health: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly opts: KafkaBusOptions) {
    this.kafka = new Kafka({
      clientId: opts.clientId,
      brokers: opts.brokers,
      logLevel: logLevel.WARN,
      logCreator: () => ({ level, log }) => {
        const { message, ...rest } = log;
        const fields = { error: rest.error, broker: rest.broker };
        // kafkajs reports retried, transient trouble as errors; it is ours to judge.
        if (level <= logLevel.WARN) opts.log.debug(`kafkajs: ${message}`, fields);
      },
      retry: { initialRetryTime: 200, retries: 5, maxRetryTime: 5_000 },
      connectionTimeout: 3_000,
      requestTimeout: 15_000,
    });
  }

  get epoch(): string {
    if (!this.clusterId) throw new SyncError("unavailable", "the Kafka bus is not connected yet");
    return `kafka:${this.clusterId}`;
  }

  /** Connects, retrying with back-off until Kafka answers or the signal aborts. */
  connect(signal?: AbortSignal): Promise<void> {
    return this.connecting ??= (async () => {
      for (let attempt = 0; !this.closed && !signal?.aborted; attempt++) {
        try {
          const admin = this.kafka.admin();
          await admin.connect();
          this.clusterId = (await admin.describeCluster()).clusterId;
          this.admin = admin;
          await this.freshProducer();
          this.healthy = true;
          this.health = setInterval(() => this.checkHealth(), 5_000);
          this.opts.log.info("connected to Kafka", {
            brokers: this.opts.brokers,
            cluster: this.clusterId,
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

  publish(messages: readonly BusMessage[]): Promise<void> {
    if (this.closed) return Promise.reject(new SyncError("unavailable", "bus is closed"));
    if (messages.length === 0) return Promise.resolve();
    return this.outbox.add(messages);
  }

  /** Creates the topic when missing (idempotent), and tells followers to pick it up. */
  async ensureTopic(topic: string): Promise<void> {
    if (this.topics.has(topic)) return;
    await this.connect();
    try {
      const created = await this.admin!.createTopics({
        waitForLeaders: true,
        topics: [{
          topic,
          numPartitions: this.opts.partitions,
          replicationFactor: -1,
          configEntries: [
            { name: "retention.ms", value: String(this.opts.retentionMs) },
            { name: "max.message.bytes", value: String(MAX_MESSAGE_BYTES) },
          ],
        }],
      });
      if (created) this.opts.log.info("created topic", { topic });
    } catch (err) {
      if (!/already exists/i.test(String((err as Error).message))) throw err;
    }
    this.topics.add(topic);
    for (const f of this.followers) f.refreshSoon();
  }

  async follow(
    onRecords: RecordsHandler,
    signal: AbortSignal,
  ): Promise<ReadonlyMap<string, Offsets>> {
    await this.connect(signal);
    const start = new Map<string, Offsets>();
    for (const topic of await this.prefixTopics()) start.set(topic, (await this.range(topic)).end);
    const follower = new KafkaFollower(this, this.kafka, onRecords, start, this.opts);
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
    try {
      const offsets = (await this.admin!.fetchTopicOffsets(topic)).sort((a, b) =>
        a.partition - b.partition
      );
      return { start: offsets.map((o) => Number(o.low)), end: offsets.map((o) => Number(o.high)) };
    } catch (err) {
      if (/does not host this topic|unknown topic/i.test(String((err as Error).message))) {
        return { start: [], end: [] };
      }
      throw err;
    }
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
    await this.outbox.drain();
    await this.producer?.disconnect().catch(() => {});
    await this.admin?.disconnect().catch(() => {});
  }

  /** Topics of our prefix, as Kafka lists them now. */
  async prefixTopics(): Promise<string[]> {
    await this.connect();
    const prefix = `${this.opts.topicPrefix}.`;
    const topics = (await this.admin!.listTopics()).filter((t) => t.startsWith(prefix));
    for (const t of topics) this.topics.add(t);
    return topics;
  }

  /**
   * Sends in requests of at most ~512 KB: Kafka refuses a record batch above its message size
   * limit, and the outbox may have gathered many publishes. Order per topic is kept: requests go
   * one after another.
   */
  private async send(messages: readonly BusMessage[]): Promise<void> {
    await this.connect();
    for (const topic of new Set(messages.map((m) => m.topic))) await this.ensureTopic(topic);
    try {
      for (const chunk of chunks(messages, REQUEST_BYTES)) {
        const byTopic = new Map<string, { key: string; value: string }[]>();
        for (const m of chunk) {
          let list = byTopic.get(m.topic);
          if (!list) byTopic.set(m.topic, list = []);
          list.push({ key: m.key, value: m.value });
        }
        await this.producer!.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })),
        });
      }
      this.healthy = true;
    } catch (err) {
      this.healthy = false;
      // An idempotent producer that failed may be fenced or out of sequence: start a new one.
      await this.freshProducer().catch(() => {});
      throw new SyncError(
        "unavailable",
        `Kafka did not acknowledge the messages: ${(err as Error).message}`,
      );
    }
  }

  private async freshProducer(): Promise<void> {
    const old = this.producer;
    this.producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await old?.disconnect().catch(() => {});
    await this.producer.connect();
  }

  private async checkHealth(): Promise<void> {
    try {
      await this.admin!.describeCluster();
      this.healthy = true;
    } catch {
      this.healthy = false;
    }
  }
}

/** Bytes per produce request, well under Kafka's default 1 MB message limit. */
const REQUEST_BYTES = 512 * 1024;
/** The largest envelope the topics SyncHub creates accept (rows with large TOAST values). */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

function* chunks(messages: readonly BusMessage[], limit: number): Iterable<readonly BusMessage[]> {
  let start = 0, size = 0;
  for (let i = 0; i < messages.length; i++) {
    const bytes = messages[i]!.value.length + messages[i]!.key.length + 64;
    if (i > start && size + bytes > limit) {
      yield messages.slice(start, i);
      start = i;
      size = 0;
    }
    size += bytes;
  }
  if (start < messages.length) yield messages.slice(start);
}

/**
 * Batches publishes: while one `sendBatch` is in flight, new messages wait and go together in the
 * next. Each publish resolves when the batch holding its messages is acknowledged (or fails).
 */
class Outbox {
  private pending: { messages: readonly BusMessage[]; done: (err?: unknown) => void }[] = [];
  private sending: Promise<void> | undefined;

  constructor(private readonly send: (messages: readonly BusMessage[]) => Promise<void>) {}

  add(messages: readonly BusMessage[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ messages, done: (err) => (err === undefined ? resolve() : reject(err)) });
      this.sending ??= this.flush();
    });
  }

  async drain(): Promise<void> {
    while (this.sending) await this.sending;
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        await this.send(batch.flatMap((b) => b.messages));
        for (const b of batch) b.done();
      } catch (err) {
        for (const b of batch) b.done(err);
      }
    }
    this.sending = undefined;
  }
}

/**
 * One follower: a consumer group of its own over every topic of the prefix. It tracks the next
 * offset it owes its handler per partition, seeks there whenever it (re)starts, and drops what
 * it already delivered, so the handler sees each record once, in order per partition.
 */
class KafkaFollower {
  running = false;
  private consumer: Consumer | undefined;
  private readonly positions = new Map<string, number[]>();
  private stopped = false;
  private restarting: Promise<void> | undefined;
  private refreshTimer: ReturnType<typeof setInterval> | undefined;
  private attempt = 0;

  constructor(
    private readonly bus: KafkaBus,
    private readonly kafka: Kafka,
    private readonly handler: RecordsHandler,
    start: ReadonlyMap<string, Offsets>,
    private readonly opts: KafkaBusOptions,
  ) {
    for (const [topic, offsets] of start) this.positions.set(topic, [...offsets]);
  }

  async start(): Promise<void> {
    await this.restart();
    this.refreshTimer = setInterval(() => this.refreshSoon(), this.opts.topicRefreshMs ?? 5_000);
  }

  stop(): void {
    this.stopped = true;
    this.running = false;
    clearInterval(this.refreshTimer);
    this.consumer?.disconnect().catch(() => {});
  }

  /** Picks up topics created since the last look (new tables), restarting on the full set. */
  refreshSoon(): void {
    if (this.stopped || this.restarting) return;
    this.bus.prefixTopics().then((topics) => {
      if (!topics.some((t) => !this.positions.has(t))) return undefined;
      for (const t of topics) if (!this.positions.has(t)) this.positions.set(t, []);
      return this.restart();
    }).catch((err) => this.opts.log.debug("topic refresh failed", { err }));
  }

  private restart(): Promise<void> {
    return this.restarting ??= this.doRestart().finally(() => this.restarting = undefined);
  }

  private async doRestart(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.consumer?.disconnect().catch(() => {});
        this.running = false;
        const topics = [...this.positions.keys()];
        const consumer = this.kafka.consumer({
          groupId: `synchub-follower-${crypto.randomUUID()}`,
          // Our producer is idempotent, never transactional: read_committed would return the
          // same records, only later (it waits on the last stable offset).
          readUncommitted: true,
          maxWaitTimeInMs: 500,
          sessionTimeout: 30_000,
          heartbeatInterval: 3_000,
          allowAutoTopicCreation: false,
        });
        this.consumer = consumer;
        consumer.on(consumer.events.CRASH, ({ payload }) => {
          if (this.stopped || payload.restart) return;
          this.opts.log.warn("Kafka consumer crashed; restarting from its positions", {
            err: payload.error,
          });
          this.restart();
        });
        // After any (re)join — ours, or kafkajs restarting after a broker blip — continue from our
        // positions rather than from the group's (uncommitted) start.
        consumer.on(consumer.events.GROUP_JOIN, () => this.seekAll(consumer));
        await consumer.connect();
        if (topics.length > 0) await consumer.subscribe({ topics, fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const records = this.accept(batch.topic, batch.partition, batch.messages);
            if (records.length > 0) await this.handler(records);
          },
        });
        this.seekAll(consumer);
        this.running = true;
        this.attempt = 0;
        return;
      } catch (err) {
        const delay = backoffDelay(classifyFailure(err), this.attempt++);
        this.opts.log.warn("Kafka consumer could not start; retrying", { retryInMs: delay, err });
        await sleep(delay);
      }
    }
  }

  private seekAll(consumer: Consumer): void {
    for (const [topic, offsets] of this.positions) {
      offsets.forEach((offset, partition) => {
        try {
          consumer.seek({ topic, partition, offset: String(offset) });
        } catch { /* not running yet: the next join seeks */ }
      });
    }
  }

  /** The messages not yet delivered, as records; advances the positions past them. */
  private accept(topic: string, partition: number, messages: KafkaMessage[]): BusRecord[] {
    let offsets = this.positions.get(topic);
    if (!offsets) this.positions.set(topic, offsets = []);
    const records: BusRecord[] = [];
    for (const m of messages) {
      const offset = Number(m.offset);
      if (offset < (offsets[partition] ?? 0)) continue; // before our start, or delivered already
      offsets[partition] = offset + 1;
      records.push({
        topic,
        partition,
        offset,
        key: m.key?.toString() ?? "",
        value: m.value?.toString() ?? "",
        timestamp: Number(m.timestamp),
      });
    }
    return records;
  }
}

/** Reads [from, end) of the given partitions with a short-lived consumer of its own. */
async function* readRange(
  kafka: Kafka,
  topic: string,
  wanted: { p: number; from: number; end: number }[],
  log: Logger,
): AsyncIterable<readonly BusRecord[]> {
  const next = new Map(wanted.map((w) => [w.p, w.from]));
  const ends = new Map(wanted.map((w) => [w.p, w.end]));
  const channel: { records: BusRecord[]; taken: () => void }[] = [];
  let wake: (() => void) | undefined;
  let failure: unknown;
  const consumer = kafka.consumer({
    groupId: `synchub-reader-${crypto.randomUUID()}`,
    readUncommitted: true,
    maxWaitTimeInMs: 100,
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) {
      failure = payload.error;
      wake?.();
    }
  });
  const done = () => [...next].every(([p, o]) => o >= ends.get(p)!);
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const from = next.get(batch.partition);
        const end = ends.get(batch.partition);
        if (from === undefined || end === undefined) return;
        const records: BusRecord[] = [];
        for (const m of batch.messages) {
          const offset = Number(m.offset);
          if (offset < next.get(batch.partition)! || offset >= end) continue;
          next.set(batch.partition, offset + 1);
          records.push({
            topic,
            partition: batch.partition,
            offset,
            key: m.key?.toString() ?? "",
            value: m.value?.toString() ?? "",
            timestamp: Number(m.timestamp),
          });
        }
        if (records.length === 0) return;
        await new Promise<void>((taken) => {
          channel.push({ records, taken });
          wake?.();
        });
      },
    });
    for (const w of wanted) consumer.seek({ topic, partition: w.p, offset: String(w.from) });
    while (true) {
      const item = channel.shift();
      if (item) {
        item.taken();
        yield item.records;
        continue;
      }
      if (failure) throw failure;
      if (done()) return;
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 100);
      });
      wake = undefined;
    }
  } finally {
    for (const item of channel.splice(0)) item.taken();
    await consumer.disconnect().catch((err) => log.debug("reader disconnect failed", { err }));
  }
}
