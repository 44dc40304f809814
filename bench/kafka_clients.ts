/**
 * kafkajs (the bus's client) against @platformatic/kafka (maintained, a similar API) producing the
 * same change envelopes to the same broker, side by side: messages per second and CPU microseconds
 * per message of the producing process, idempotent, acks=all, batches of 2,000 as the listener
 * sends them. Each client runs in a process of its own so neither pays for the other's garbage.
 *
 *   deno run -A bench/kafka_clients.ts            starts a private broker, runs both, prints JSON
 *   deno run -A bench/kafka_clients.ts --messages=500000
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { CompressionTypes, Kafka, logLevel } from "kafkajs";
import "../lib/kafka/quiet_warnings.ts";
import { loadConfig } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import { freePort } from "../tools/servers/process.ts";
import { startKafkaBroker } from "../tools/servers/kafka.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    client: { type: "string" },
    brokers: { type: "string" },
    messages: { type: "string", default: "200000" },
    batch: { type: "string", default: "2000" },
    compression: { type: "string", default: "none" },
  },
});
const messages = Number(values.messages);
const batch = Number(values.batch);

if (values.client) {
  console.log(JSON.stringify(await produce(values.client, values.brokers!.split(","))));
  Deno.exit(0);
}

const dataDir = await Deno.makeTempDir({ prefix: "synchub-bench-kafka-" });
const log = createLogger("bench", "warn");
const broker = await startKafkaBroker({
  cacheDir: loadConfig().cacheDir,
  dataDir,
  port: freePort(),
  controllerPort: freePort(),
  log,
});
try {
  for (const client of ["kafkajs", "platformatic"]) {
    for (const compression of ["none", "gzip"]) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          import.meta.filename!,
          `--client=${client}`,
          `--brokers=${broker.brokers}`,
          `--messages=${messages}`,
          `--batch=${batch}`,
          `--compression=${compression}`,
        ],
        stderr: "inherit",
      }).output();
      if (!out.success) throw new Error(`${client} failed`);
      console.log(new TextDecoder().decode(out.stdout).trim());
    }
  }
} finally {
  await broker.stop();
  await Deno.remove(dataDir, { recursive: true }).catch(() => {});
}

/** A change envelope the size and shape the listener publishes, one per row id. */
function envelope(i: number): { key: string; value: string } {
  const ts = 1700000000000;
  return {
    key: `{"id":${i}}`,
    value: JSON.stringify({
      id: crypto.randomUUID(),
      op: "c",
      before: null,
      after: { id: i, bucket: "bench", payload: `payload-${i}` },
      key: { id: i },
      changed: null,
      bucket: "bench",
      source: {
        version: "1.0.0",
        connector: "postgresql",
        name: "pg",
        db: "bench",
        schema: "public",
        table: "bench_events",
        position: "0/12345678",
        txId: "1234",
        ts_ms: ts,
        snapshot: "false",
        lsn: 12345678,
      },
      transaction: null,
      ts_ms: ts,
    }),
  };
}

async function produce(client: string, brokers: string[]) {
  const topic = `bench-${client}-${values.compression}-${Date.now()}`;
  const admin = new Kafka({ clientId: "bench-admin", brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3 }] });
  await admin.disconnect();
  const all = Array.from({ length: messages }, (_, i) => envelope(i));
  let send: (part: typeof all) => Promise<void>;
  let close: () => Promise<void>;
  if (client === "kafkajs") {
    const kafka = new Kafka({ clientId: "bench", brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const compression = values.compression === "gzip"
      ? CompressionTypes.GZIP
      : CompressionTypes.None;
    send = async (part) => {
      await producer.sendBatch({
        acks: -1,
        compression,
        topicMessages: [{ topic, messages: part }],
      });
    };
    close = () => producer.disconnect();
  } else {
    const { Producer, stringSerializers } = await import("@platformatic/kafka");
    const producer = new Producer({
      clientId: "bench",
      bootstrapBrokers: brokers,
      serializers: stringSerializers,
      idempotent: true,
      ...(values.compression === "gzip" ? { compression: "gzip" as const } : {}),
    });
    send = async (part) => {
      await producer.send({ messages: part.map((m) => ({ topic, key: m.key, value: m.value })) });
    };
    close = () => producer.close();
  }
  await send(all.slice(0, 100)); // connections and metadata before the clock starts
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < messages; i += batch) await send(all.slice(i, i + batch));
  const wall = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  await close();
  return {
    bench: "kafka_clients",
    client,
    compression: values.compression,
    messages,
    msgs_per_s: Math.round(messages / wall * 1000),
    cpu_us_per_msg: Number(((cpu.user + cpu.system) / messages).toFixed(2)),
  };
}
