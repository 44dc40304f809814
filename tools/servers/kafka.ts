/**
 * A private Apache Kafka broker from Maven Central jars, for the tests, the bench and
 * `deno task kafka`: the jars are fetched once with `mvn dependency:copy-dependencies` on a small
 * pom and cached; the broker runs in KRaft mode (broker and controller in one node) on 127.0.0.1,
 * with its log in a directory of the caller's.
 */
import { Kafka, logLevel } from "kafkajs";
import "../../lib/kafka/quiet_warnings.ts";
import { collectOutput, exists, setprivAvailable, stopChild } from "./process.ts";
import { mavenJars } from "./maven.ts";
import type { Logger } from "../../lib/log.ts";
import { sleep } from "../../lib/retry.ts";

export const KAFKA_VERSION = "4.3.1";

export interface KafkaBrokerOptions {
  cacheDir: string;
  dataDir: string;
  port: number;
  controllerPort: number;
  log: Logger;
  /** JVM heap ceiling, in MB. */
  heapMb?: number;
}

export interface KafkaBroker {
  readonly brokers: string;
  /** Stops the broker cleanly (SIGTERM). */
  stop(): Promise<void>;
  /** Kills the broker outright (SIGKILL), as a crash would. */
  kill(): Promise<void>;
}

export async function startKafkaBroker(opts: KafkaBrokerOptions): Promise<KafkaBroker> {
  const libs = await kafkaJars(opts.cacheDir, opts.log);
  await Deno.mkdir(`${opts.dataDir}/logs`, { recursive: true });
  const config = `${opts.dataDir}/server.properties`;
  const fresh = !await exists(`${opts.dataDir}/logs/meta.properties`);
  await Deno.writeTextFile(config, serverProperties(opts));
  await Deno.writeTextFile(`${opts.dataDir}/log4j2.properties`, LOG4J);
  const java = (args: string[], daemon: boolean) =>
    new Deno.Command(setprivAvailable() && daemon ? "setpriv" : "java", {
      args: [
        ...(setprivAvailable() && daemon ? ["--pdeathsig=SIGTERM", "--", "java"] : []),
        `-Xmx${opts.heapMb ?? 512}m`,
        "-Xms128m",
        "-XX:+UseG1GC",
        `-Dlog4j2.configurationFile=${opts.dataDir}/log4j2.properties`,
        "-Dkafka.logs.dir=" + `${opts.dataDir}/app-logs`,
        "-cp",
        `${libs}/*`,
        ...args,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
  if (fresh) {
    const out = await java(
      ["kafka.tools.StorageTool", "format", "-t", clusterId(), "-c", config],
      false,
    )
      .output();
    if (!out.success) {
      throw new Error(
        `formatting Kafka storage failed:\n${new TextDecoder().decode(out.stderr)}${
          new TextDecoder().decode(out.stdout)
        }`,
      );
    }
  }
  const child = java(["kafka.Kafka", config], true).spawn();
  const output = collectOutput(child, opts.log, "kafka");
  const brokers = `127.0.0.1:${opts.port}`;
  try {
    await waitUntilServing(brokers, child);
  } catch (err) {
    child.kill("SIGKILL");
    throw new Error(`Kafka did not start: ${(err as Error).message}\n${output()}`);
  }
  opts.log.info("Kafka ready", { brokers, version: KAFKA_VERSION });
  return {
    brokers,
    stop: () => stopChild(child, "SIGTERM", 30_000),
    kill: () => stopChild(child, "SIGKILL", 30_000),
  };
}

/** The broker's jars, fetched from Maven Central on first use and cached. */
export function kafkaJars(cacheDir: string, log: Logger): Promise<string> {
  return mavenJars(
    `${cacheDir}/kafka-${KAFKA_VERSION}`,
    POM,
    `Apache Kafka ${KAFKA_VERSION} jars`,
    log,
  );
}

const POM = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>synchub</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>2.24.3</version>
    </dependency>
  </dependencies>
</project>
`;

/** Kafka's JVM logs warnings and worse to the console (Kafka Connect adds its own loggers). */
export const LOG4J = `rootLogger.level = warn
rootLogger.appenderRef.out.ref = out
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
`;

function serverProperties(o: KafkaBrokerOptions): string {
  return `process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${o.controllerPort}
listeners=PLAINTEXT://127.0.0.1:${o.port},CONTROLLER://127.0.0.1:${o.controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${o.port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${o.dataDir}/logs
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.flush.interval.messages=9223372036854775807
`;
}

/**
 * A Kafka cluster id: 16 random bytes, base64url without padding — never starting with `-`,
 * which `kafka-storage format -t <id>` would read as an option (1 start in 64 failed so).
 */
export function clusterId(random = () => crypto.getRandomValues(new Uint8Array(16))): string {
  for (;;) {
    const id = btoa(String.fromCharCode(...random()))
      .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    if (!id.startsWith("-")) return id;
  }
}

async function waitUntilServing(brokers: string, child: Deno.ChildProcess): Promise<void> {
  let exited = false;
  child.status.then(() => exited = true);
  const kafka = new Kafka({
    clientId: "synchub-probe",
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited) throw new Error("the broker exited during start-up");
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.describeCluster();
      await admin.disconnect();
      return;
    } catch (err) {
      await admin.disconnect().catch(() => {});
      if (Date.now() > deadline) throw err;
      await sleep(250);
    }
  }
}
