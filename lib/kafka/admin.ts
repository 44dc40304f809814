/**
 * The Kafka admin role: the cluster id (the bus epoch), topics created with SyncHub's settings,
 * the topics of a prefix, and the offsets a topic holds.
 */
import type { Admin, Kafka } from "kafkajs";
import type { Offsets } from "../cursor.ts";
import type { Logger } from "../log.ts";

export interface TopicSettings {
  partitions: number;
  /** How long records stay: how long cursors are valid. */
  retentionMs: number;
}

/** The largest record the topics SyncHub creates accept. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export class KafkaAdmin {
  private admin: Admin | undefined;
  private readonly known = new Set<string>();
  clusterId: string | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly settings: TopicSettings,
    private readonly log: Logger,
  ) {}

  async connect(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    this.clusterId = (await admin.describeCluster()).clusterId;
    this.admin = admin;
  }

  /** True while the cluster answers. */
  async alive(): Promise<boolean> {
    try {
      await this.admin!.describeCluster();
      return true;
    } catch {
      return false;
    }
  }

  /** Creates the topic when missing (idempotent); true when it was not known before. */
  async ensureTopic(topic: string, opts: { compacted?: boolean } = {}): Promise<boolean> {
    if (this.known.has(topic)) return false;
    const configEntries = [
      { name: "max.message.bytes", value: String(MAX_MESSAGE_BYTES) },
      ...(opts.compacted
        ? [{ name: "cleanup.policy", value: "compact" }]
        : [{ name: "retention.ms", value: String(this.settings.retentionMs) }]),
    ];
    try {
      const created = await this.admin!.createTopics({
        waitForLeaders: true,
        topics: [{
          topic,
          // A compacted topic is read whole by everyone: one partition keeps it in order.
          numPartitions: opts.compacted ? 1 : this.settings.partitions,
          replicationFactor: -1,
          configEntries,
        }],
      });
      if (created) this.log.info("created topic", { topic, compacted: opts.compacted ?? false });
    } catch (err) {
      if (!/already exists/i.test(String((err as Error).message))) throw err;
    }
    this.known.add(topic);
    return true;
  }

  /** Topics of the prefix, as Kafka lists them now. */
  async topicsWithPrefix(prefix: string): Promise<string[]> {
    const topics = (await this.admin!.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
    for (const t of topics) this.known.add(t);
    return topics;
  }

  /** The offsets a topic holds: `start` the oldest retained, `end` the next to be written. */
  async range(topic: string): Promise<{ start: Offsets; end: Offsets }> {
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

  async disconnect(): Promise<void> {
    await this.admin?.disconnect().catch(() => {});
  }
}
