/**
 * A private Kafka Connect worker (standalone mode, 127.0.0.1) from Maven Central jars, for the
 * tests that prove SyncHub's topics are read by real third-party consumers: the worker's jars and
 * Debezium's JDBC sink connector are fetched once with `mvn` and cached beside Kafka's.
 */
import type { Logger } from "../../lib/log.ts";
import { sleep } from "../../lib/retry.ts";
import { KAFKA_VERSION, LOG4J } from "./kafka.ts";
import { mavenJars } from "./maven.ts";
import { collectOutput, freePort, setprivAvailable, stopChild } from "./process.ts";

export const DEBEZIUM_VERSION = "3.6.0.Final";
/** Debezium's JDBC sink asks for a hibernate-agroal that is not on Central; 7.2.19 resolves it. */
const HIBERNATE_VERSION = "7.2.19.Final";

export interface ConnectWorker {
  readonly url: string;
  /** Creates a connector and waits until it and its task run. */
  createConnector(name: string, config: Record<string, string>): Promise<void>;
  /** The connector's state and its tasks' (RUNNING, FAILED with a trace, …). */
  status(name: string): Promise<ConnectorStatus>;
  stop(): Promise<void>;
}

export interface ConnectorStatus {
  connector: { state: string };
  tasks: { id: number; state: string; trace?: string }[];
}

/** Debezium's JDBC sink connector as a Connect plugin directory. */
export async function debeziumJdbcPlugin(cacheDir: string, log: Logger): Promise<string> {
  const dir = `${cacheDir}/connect-plugins/debezium-jdbc-${DEBEZIUM_VERSION}`;
  await mavenJars(dir, JDBC_PLUGIN_POM, `Debezium JDBC sink ${DEBEZIUM_VERSION}`, log);
  return dir;
}

export async function startConnectWorker(opts: {
  cacheDir: string;
  dataDir: string;
  brokers: string;
  /** Directories holding one plugin each (their jars under them). */
  plugins: readonly string[];
  log: Logger;
  heapMb?: number;
}): Promise<ConnectWorker> {
  const libs = await mavenJars(
    `${opts.cacheDir}/kafka-connect-${KAFKA_VERSION}`,
    WORKER_POM,
    `Kafka Connect ${KAFKA_VERSION} jars`,
    opts.log,
  );
  await Deno.mkdir(opts.dataDir, { recursive: true });
  const port = freePort();
  const properties = `${opts.dataDir}/worker.properties`;
  await Deno.writeTextFile(
    properties,
    `bootstrap.servers=${opts.brokers}
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
offset.storage.file.filename=${opts.dataDir}/offsets
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:${port}
plugin.path=${opts.plugins.join(",")}
plugin.discovery=only_scan
`,
  );
  await Deno.writeTextFile(`${opts.dataDir}/log4j2.properties`, CONNECT_LOG4J);
  const daemon = setprivAvailable();
  const child = new Deno.Command(daemon ? "setpriv" : "java", {
    args: [
      ...(daemon ? ["--pdeathsig=SIGTERM", "--", "java"] : []),
      `-Xmx${opts.heapMb ?? 320}m`,
      "-XX:+UseSerialGC",
      "-XX:TieredStopAtLevel=1",
      `-Dlog4j2.configurationFile=${opts.dataDir}/log4j2.properties`,
      "-cp",
      `${libs}/*`,
      "org.apache.kafka.connect.cli.ConnectStandalone",
      properties,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = collectOutput(child, opts.log, "kafka-connect", 200);
  const url = `http://127.0.0.1:${port}`;
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (exited) throw new Error(`Kafka Connect exited during start-up:\n${output()}`);
    const up = await fetch(`${url}/connectors`).then((r) => (r.body?.cancel(), r.ok), () => false);
    if (up) break;
    if (Date.now() > deadline) {
      await stopChild(child, "SIGKILL", 5_000);
      throw new Error(`Kafka Connect did not start:\n${output()}`);
    }
    await sleep(500);
  }
  opts.log.info("Kafka Connect ready", { url });
  const status = async (name: string) => {
    const res = await fetch(`${url}/connectors/${name}/status`);
    if (!res.ok) throw new Error(`connector ${name}: ${res.status} ${await res.text()}`);
    return await res.json() as ConnectorStatus;
  };
  return {
    url,
    status,
    async createConnector(name, config) {
      const res = await fetch(`${url}/connectors`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name, config }),
      });
      if (!res.ok) throw new Error(`creating connector ${name}: ${res.status} ${await res.text()}`);
      await res.body?.cancel();
      const until = Date.now() + 120_000;
      for (;;) {
        const s = await status(name).catch(() => undefined);
        const failed = s?.tasks.find((t) => t.state === "FAILED");
        if (failed) throw new Error(`connector ${name} failed:\n${failed.trace}\n${output()}`);
        if (s?.connector.state === "RUNNING" && s.tasks.some((t) => t.state === "RUNNING")) return;
        if (Date.now() > until) throw new Error(`connector ${name} did not start:\n${output()}`);
        await sleep(500);
      }
    },
    stop: () => stopChild(child, "SIGTERM", 20_000),
  };
}

const WORKER_POM = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>synchub</groupId>
  <artifactId>kafka-connect-worker</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>connect-runtime</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>connect-json</artifactId>
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

/**
 * The worker provides Kafka's, SLF4J's and Jackson's classes (two Jacksons make the worker's
 * Jackson modules "not a subtype" of the plugin's); the plugin brings the rest.
 */
const JDBC_PLUGIN_POM = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>synchub</groupId>
  <artifactId>debezium-jdbc-plugin</artifactId>
  <version>1</version>
  <dependencyManagement>
    <dependencies>
      <dependency>
        <groupId>org.hibernate.orm</groupId>
        <artifactId>hibernate-core</artifactId>
        <version>${HIBERNATE_VERSION}</version>
      </dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency>
      <groupId>io.debezium</groupId>
      <artifactId>debezium-connector-jdbc</artifactId>
      <version>${DEBEZIUM_VERSION}</version>
      <exclusions>
        <exclusion><groupId>org.hibernate</groupId><artifactId>hibernate-agroal</artifactId></exclusion>
        <exclusion><groupId>org.apache.kafka</groupId><artifactId>*</artifactId></exclusion>
        <exclusion><groupId>org.slf4j</groupId><artifactId>*</artifactId></exclusion>
        <exclusion><groupId>com.fasterxml.jackson.core</groupId><artifactId>*</artifactId></exclusion>
        <exclusion><groupId>io.strimzi</groupId><artifactId>*</artifactId></exclusion>
        <exclusion><groupId>com.microsoft.sqlserver</groupId><artifactId>*</artifactId></exclusion>
        <exclusion><groupId>com.oracle.database.jdbc</groupId><artifactId>*</artifactId></exclusion>
        <exclusion><groupId>com.mysql</groupId><artifactId>*</artifactId></exclusion>
        <exclusion><groupId>org.mariadb.jdbc</groupId><artifactId>*</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>org.hibernate.orm</groupId>
      <artifactId>hibernate-agroal</artifactId>
      <version>${HIBERNATE_VERSION}</version>
    </dependency>
  </dependencies>
</project>
`;

const CONNECT_LOG4J = `${LOG4J}logger.debezium.name = io.debezium
logger.debezium.level = info
`;
