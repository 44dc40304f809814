/**
 * The bus stages: `stage_publish_<transport>` and `stage_consume_<transport>`, on the bus classes
 * the services use. The messages are the listener's (bench/stages.ts `decodeWal`: 500-change
 * batches), made afresh for every round outside the timed loop — their values are still the
 * unflattened strings envelopeJson returns, as the listener hands them over.
 */
import { type BusMessage, type BusRecord, Channel } from "../lib/bus/bus.ts";
import { KafkaBus } from "../lib/bus/kafka_bus.ts";
import { MemoryBus } from "../lib/bus/memory_bus.ts";
import { kafkaClient } from "../lib/kafka/client.ts";
import { KafkaFollower } from "../lib/kafka/consumer.ts";
import { silentLogger } from "../lib/log.ts";
import { cpuUsage } from "node:process";
import { medianOf, timed, type Timing } from "./stages_timing.ts";
import { type Figure, round } from "./stats.ts";

export interface BusStagesOptions {
  transport: "memory" | "kafka";
  brokers?: string;
  changes: number;
  rounds: number;
  prefix: string;
  /** The topic of bench_events: where every batch goes. */
  topic: string;
  /** The listener's batches of bus messages for `changes` changes, made afresh per call. */
  batches(): BusMessage[][];
}

/** The runPipeline default: changes published and not yet confirmed before it waits. */
const MAX_IN_FLIGHT = 1_000;

/** Large enough that no round's records are evicted before they are read back. */
export const memoryBus = () => new MemoryBus({ retentionMs: 3_600_000, maxBytes: 512 << 20 });

export function busStages(opts: BusStagesOptions): Promise<Figure[]> {
  return opts.transport === "memory" ? memoryStages(opts) : kafkaStages(opts);
}

/**
 * `stage_publish_memory`: `MemoryBus.publish` of every batch into a fresh bus with no follower —
 * appending each record's bytes to the topic's segments (the UTF-8 encoding of its value
 * included) and the retention check. Not in it: live followers (in a hub the gateway's dispatch
 * runs inside publish; that is `stage_fanout`).
 *
 * `stage_consume_memory`: `MemoryBus.read` of the same records from offset 0, 1,000 at a time —
 * the path of a gateway's catch-up (`since`) and history reads: records rebuilt from the segments'
 * bytes. Live followers of the in-process bus get the publisher's records by reference, with no
 * copy or decoding, so there is no separate live consume cost to measure.
 */
async function memoryStages(opts: BusStagesOptions): Promise<Figure[]> {
  const { changes } = opts;
  let last: MemoryBus | undefined;
  const publish = await medianOf(opts.rounds, async () => {
    const batches = opts.batches();
    const bus = last = memoryBus();
    return await timed(changes, async () => {
      for (const batch of batches) await bus.publish(batch);
    });
  });
  const bus = last!;
  const { topic } = opts;
  const consume = await medianOf(opts.rounds, () =>
    timed(changes, async () => {
      let n = 0;
      for await (const records of bus.read(topic, [0], [changes])) n += records.length;
      if (n !== changes) throw new Error(`read ${n} records, expected ${changes}`);
    }));
  return [
    { bench: "stage_publish_memory", transport: "memory", changes, ...publish },
    { bench: "stage_consume_memory", transport: "memory", changes, ...consume },
  ];
}

/**
 * `stage_publish_kafka`: `KafkaBus.publish` of every batch to a topic created beforehand, with
 * at most 1,000 changes unacknowledged (runPipeline's window): the producer's encoding and
 * compression, the requests, and waiting for the broker's acknowledgements (acks=all, one
 * broker on this machine). One round, after a warm-up of one round into the same topic. Once per
 * producing client (KAFKA_CLIENT, the `client` field), each on a bus of its own.
 *
 * `stage_consume_kafka`: the gateway's follower (lib/kafka/consumer.ts `KafkaFollower`, as
 * `KafkaBus.follow` starts it; kafkajs whatever KAFKA_CLIENT says) reading the first client's
 * round back from its first offset. Timed from its first delivered batch to its last record, so
 * the consumer group's join is left out (reported as `join_ms`); the records of the first batch
 * are not counted in the rate.
 */
async function kafkaStages(opts: BusStagesOptions): Promise<Figure[]> {
  if (!opts.brokers) throw new Error("stage_publish_kafka needs a broker");
  const { changes, topic } = opts;
  const brokers = [opts.brokers];
  const figures: Figure[] = [];
  let consumeFrom: number | undefined;
  for (const client of ["kafkajs", "platformatic"] as const) {
    const bus = new KafkaBus({
      brokers,
      topicPrefix: opts.prefix,
      clientId: `bench-stages-${client}`,
      partitions: 1,
      retentionMs: 3_600_000,
      log: silentLogger,
      client,
    });
    try {
      await bus.connect();
      await bus.ensureTopic(topic);
      let start = 0;
      const publish = await medianOf(1, async () => {
        const batches = opts.batches();
        start = (await bus.range(topic)).end[0] ?? 0;
        return await timed(changes, () => publishWindowed(bus, batches));
      });
      consumeFrom ??= start;
      figures.push({
        bench: "stage_publish_kafka",
        transport: "kafka",
        client,
        changes,
        ...publish,
      });
    } finally {
      await bus.close();
    }
  }
  const consume = await followFrom(brokers, topic, consumeFrom!, changes);
  figures.push({
    bench: "stage_consume_kafka",
    transport: "kafka",
    client: "kafkajs",
    changes,
    ...consume,
  });
  return figures;
}

/** Publishes in order through one channel, waiting once more than MAX_IN_FLIGHT are unconfirmed. */
async function publishWindowed(bus: KafkaBus, batches: BusMessage[][]): Promise<void> {
  const channel = new Channel();
  const inFlight: { done: Promise<void>; size: number }[] = [];
  let size = 0;
  for (const batch of batches) {
    inFlight.push({ done: bus.publish(batch, channel), size: batch.length });
    size += batch.length;
    while (size > MAX_IN_FLIGHT && inFlight.length > 1) {
      const oldest = inFlight.shift()!;
      size -= oldest.size;
      await oldest.done;
    }
  }
  await Promise.all(inFlight.map((f) => f.done));
}

async function followFrom(
  brokers: string[],
  topic: string,
  from: number,
  changes: number,
): Promise<Timing & { join_ms: number }> {
  const begun = performance.now();
  let first: { at: number; cpu: ReturnType<typeof cpuUsage>; records: number } | undefined;
  let received = 0;
  let finished!: () => void;
  const done = new Promise<void>((r) => finished = r);
  const follower = new KafkaFollower(
    kafkaClient({ brokers, clientId: "bench-stages-follower", log: silentLogger }),
    (records: readonly BusRecord[]) => {
      first ??= { at: performance.now(), cpu: cpuUsage(), records: records.length };
      for (const r of records) received += r.value === null ? 0 : 1;
      if (received >= changes) finished();
    },
    new Map([[topic, [from]]]),
    { log: silentLogger, topics: () => Promise.resolve([topic]) },
  );
  try {
    await follower.start();
    const timeout = setTimeout(finished, 60_000);
    await done;
    clearTimeout(timeout);
    if (received < changes) throw new Error(`followed ${received} records of ${changes}`);
    const seconds = (performance.now() - first!.at) / 1000;
    const used = cpuUsage(first!.cpu);
    const counted = Math.max(1, changes - first!.records);
    return {
      ops_per_s: round(counted / seconds, 0),
      cpu_us_per_change: round((used.user + used.system) / counted, 2),
      join_ms: round(first!.at - begun, 0),
    };
  } finally {
    follower.stop();
  }
}
