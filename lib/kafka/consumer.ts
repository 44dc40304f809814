/**
 * The Kafka consumer role: followers that deliver every record of a prefix's topics once, in order
 * per partition, from positions they keep themselves; and short-lived readers of an offset range
 * (catch-up for a cursor, the catalog at start-up).
 */
import type { Consumer, Kafka, KafkaMessage } from "kafkajs";
import type { BusRecord, Offsets, RecordsHandler } from "../bus/bus.ts";
import type { Logger } from "../log.ts";
import { busValueOf } from "./layout.ts";
import { backoffDelay, classifyFailure, sleep } from "../retry.ts";

export interface FollowerOptions {
  log: Logger;
  /** The topics to follow, as Kafka lists them now. */
  topics(): Promise<string[]>;
  /** How often to look for new topics. */
  topicRefreshMs?: number;
}

/**
 * One follower: a consumer group of its own over every topic of the prefix. It tracks the next
 * offset it owes its handler per partition, seeks there whenever it (re)starts, and drops what
 * it already delivered, so the handler sees each record once, in order per partition.
 */
export class KafkaFollower {
  running = false;
  private consumer: Consumer | undefined;
  private readonly positions = new Map<string, number[]>();
  private stopped = false;
  private restarting: Promise<void> | undefined;
  private refreshTimer: ReturnType<typeof setInterval> | undefined;
  private attempt = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly handler: RecordsHandler,
    start: ReadonlyMap<string, Offsets>,
    private readonly opts: FollowerOptions,
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
    this.opts.topics().then((topics) => {
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
      records.push(busRecordOf(topic, partition, m));
    }
    return records;
  }
}

/** Reads [from, end) of the given partitions with a short-lived consumer of its own. */
export async function* readRange(
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
          records.push(busRecordOf(topic, batch.partition, m));
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

/** A Kafka message as a bus record: its value as envelope JSON whatever the layout (layout.ts). */
function busRecordOf(topic: string, partition: number, m: KafkaMessage): BusRecord {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    if (v !== undefined) headers[k] = (Array.isArray(v) ? v[0]! : v).toString();
  }
  const value = busValueOf(m.value === null ? null : m.value.toString(), (h) => headers[h]);
  return {
    topic,
    partition,
    offset: Number(m.offset),
    key: m.key?.toString() ?? "",
    value,
    timestamp: Number(m.timestamp),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
  };
}
