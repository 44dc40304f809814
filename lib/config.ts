/**
 * The only module that reads the environment. Every variable is validated at once and every
 * problem is reported together, so a bad deployment fails at start-up with one clear message.
 */
import { Cron } from "croner";
import { z } from "zod";

const identifier = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const positive = (fallback: number) => z.coerce.number().positive().default(fallback);
const url = (schemes: string[]) =>
  z.string().trim().refine((v) => {
    try {
      return schemes.includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, `must be a URL starting with ${schemes.map((s) => `${s}//`).join(" or ")}`);
const list = (item: z.ZodType<string, string>) =>
  z.string().transform((v) => v.split(",").map((s) => s.trim()).filter(Boolean)).pipe(
    z.array(item),
  );

/** An extra source in `SOURCES`, for more than one MySQL or MongoDB source. */
const sourceSchema = z.strictObject({
  connector: z.enum(["mysql", "mongodb"]),
  name: z.string().regex(/^[A-Za-z0-9_-]+$/),
  url: z.string().url(),
  tables: z.array(z.string()).optional(),
  serverId: z.number().int().min(1).optional(),
});

export type SourceConfig = {
  connector: "mysql" | "mongodb";
  name: string;
  url: string;
  /** MySQL: `db.table`; MongoDB: collection names of the URL's database. Unset: all. */
  tables: string[] | undefined;
  serverId: number;
};

const envSchema = z.object({
  DATABASE_URL: url(["postgres:", "postgresql:"]).optional(),
  KAFKA_BROKERS: list(z.string().regex(/^[^\s:]+:\d+$/, "must be host:port")).optional(),
  KAFKA_TOPIC_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/).default("synchub"),
  KAFKA_PARTITIONS: z.coerce.number().int().min(1).max(1000).default(1),
  KAFKA_CLIENT: z.enum(["kafkajs", "platformatic"]).default("kafkajs"),
  JWT_SECRET: z.string().optional(),
  ACCESS_POLICY: z.string().min(1).optional(),
  MYSQL_URL: url(["mysql:", "mariadb:"]).optional(),
  MYSQL_TABLES: list(z.string().regex(/^[^.\s]+\.[^.\s]+$/, "db.table")).optional(),
  MYSQL_SOURCE_NAME: z.string().regex(/^[A-Za-z0-9_-]+$/).default("mysql"),
  MYSQL_SERVER_ID: z.coerce.number().int().min(1).max(4294967295).default(5400),
  MONGODB_URL: url(["mongodb:", "mongodb+srv:"]).optional(),
  MONGODB_COLLECTIONS: list(z.string().regex(/^[^\s.$]+$/, "a collection name")).optional(),
  MONGODB_SOURCE_NAME: z.string().regex(/^[A-Za-z0-9_-]+$/).default("mongo"),
  SOURCES: z.string().transform((text, ctx) => {
    try {
      return JSON.parse(text);
    } catch {
      ctx.addIssue({ code: "custom", message: "must be a JSON array of sources" });
      return z.NEVER;
    }
  }).pipe(z.array(sourceSchema)).optional(),
  PUBLICATION: z.string().regex(identifier, "must be a plain SQL identifier").default("synchub"),
  REPLICATION_SLOT: z.string().regex(/^[a-z0-9_]{1,63}$/, "lower-case letters, digits and _")
    .default("synchub"),
  PUBLICATION_TABLES: list(z.string().regex(/^[A-Za-z_][\w$]*\.[A-Za-z_][\w$]*$/, "schema.table"))
    .optional(),
  PG_SOURCE_NAME: z.string().regex(/^[A-Za-z0-9_-]+$/).default("pg"),
  BUCKET_COLUMN: z.string().regex(identifier).default("bucket"),
  HOST: z.string().min(1).default("127.0.0.1"),
  CRUD_PORT: port(8000),
  GATEWAY_PORT: port(8080),
  LISTENER_PORT: port(8090),
  LISTENER_URL: url(["http:", "https:"]).optional(),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  CURSOR_RETENTION_HOURS: positive(24),
  MEMORY_BUS_MAX_MB: positive(32),
  ENVELOPE_MAX_BYTES: z.coerce.number().int().min(4096).max(15 * 1024 * 1024)
    .default(1024 * 1024),
  WS_MAX_FRAME_BYTES: z.coerce.number().int().min(256).default(64 * 1024),
  WS_MAX_SUBSCRIPTIONS: z.coerce.number().int().min(1).default(100),
  WS_MAX_BUFFERED_BYTES: z.coerce.number().int().min(1024).default(8 * 1024 * 1024),
  WS_MAX_MESSAGES_PER_SECOND: z.coerce.number().positive().default(50),
  WS_IDLE_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  WS_MAX_CONNECTIONS_PER_TOKEN: z.coerce.number().int().min(1).default(20),
  WS_MAX_CONNECTIONS_PER_ADDRESS: z.coerce.number().int().min(1).default(500),
  WS_MAX_CATCHUP_BYTES: z.coerce.number().int().min(1024).default(32 * 1024 * 1024),
  CRUD_MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(1024 * 1024),
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).default(900),
  REFRESH_TOKEN_TTL_DAYS: z.coerce.number().positive().default(30),
  PASSWORD_HASH_ITERATIONS: z.coerce.number().int().min(1000).default(600_000),
  PASSWORD_HASH_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  PASSWORD_HASH_QUEUE: z.coerce.number().int().min(0).max(10_000).default(32),
  ADMIN_EMAILS: list(z.string().email("an email address")).optional(),
  CRUD_RATE_PER_SECOND: z.coerce.number().positive().default(100),
  CRUD_RATE_PER_ADDRESS_PER_SECOND: z.coerce.number().positive().default(200),
  AUTH_ATTEMPTS_PER_MINUTE: z.coerce.number().positive().default(30),
  CORS_ORIGINS: list(
    z.string().regex(/^(\*|https?:\/\/[^\s/]+)$/, "* or an origin like https://app.example"),
  ).optional(),
  TRUST_PROXY: z.enum(["true", "false"]).default("false"),
  SYNC_CONFIG: z.string().min(1).optional(),
  SYNC_PORT: port(8070).optional(),
  DASHBOARD_PORT: port(3000),
  SYNC_API_URL: url(["http:", "https:"]).optional(),
  SYNC_API_TOKEN: z.string().min(1).optional(),
  // --- debezium branch: Kafka compatibility (SPEC §11) and observability (SPEC §12) ---
  SNAPSHOT_MODE: z.enum(["initial", "never"]).default("initial"),
  KAFKA_TOMBSTONES: z.enum(["true", "false"]).default("true"),
  KAFKA_ENVELOPE_SCHEMA: z.enum(["true", "false"]).default("false"),
  OTEL_DENO: z.enum(["true", "false"]).optional(),
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: url(["http:", "https:"]).optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: z.enum(["http/protobuf", "http/json"]).optional(),
  // --- end debezium branch ---
  EMBEDDED_PG_PORT: port(54329),
  EMBEDDED_KAFKA_PORT: port(9092),
  DATA_DIR: z.string().min(1).default(".data"),
  // SPEC §10: scheduled checkpoints and how long checkpoints are kept.
  CHECKPOINT_CRON: z.string().trim().refine((v) => {
    try {
      new Cron(v, { paused: true }).stop();
      return true;
    } catch {
      return false;
    }
  }, "must be a cron pattern like `0 3 * * *` (minute hour day month weekday)").optional(),
  CHECKPOINT_RETENTION: z.string().trim().regex(
    /^(\d+|\d+(h|d|w))$/,
    "a count of checkpoints kept per bucket (`7`) or an age (`36h`, `14d`, `2w`)",
  ).default("7"),
  CHECKPOINT_BUCKETS: list(z.string().min(1)).optional(),
  CACHE_DIR: z.string().min(1).optional(),
  XDG_CACHE_HOME: z.string().optional(),
  HOME: z.string().optional(),
});

export type Env = z.input<typeof envSchema>;

/** The variables SyncHub reads (the rest of the schema is where defaults come from). */
export const VARIABLES = Object.keys(envSchema.shape).filter((v) =>
  !["HOME", "XDG_CACHE_HOME"].includes(v)
);

export interface Config {
  databaseUrl: string | undefined;
  kafka: { brokers: string[]; topicPrefix: string; partitions: number } | undefined;
  topicPrefix: string;
  jwtSecret: string | undefined;
  /** The access policy file (SPEC §7); unset: `access.yaml` when it exists. */
  accessPolicyPath: string | undefined;
  /** The MySQL and MongoDB sources the listener captures besides PostgreSQL. */
  sources: SourceConfig[];
  postgres: {
    publication: string;
    slot: string;
    sourceName: string;
    publicationTables: string[] | undefined;
  };
  bucketColumn: string;
  host: string;
  ports: { crud: number; gateway: number; listener: number };
  /** Where a gateway in another process reaches the listener (snapshots). */
  listenerUrl: string;
  logLevel: "debug" | "info" | "warn" | "error";
  cursorRetentionMs: number;
  memoryBusMaxBytes: number;
  /** The largest envelope published whole; larger ones lose their largest values (oversize). */
  envelopeMaxBytes: number;
  gateway: {
    maxFrameBytes: number;
    maxSubscriptions: number;
    maxBufferedBytes: number;
    /** Client messages a connection may send per second (bursts up to twice that). */
    maxMessagesPerSecond: number;
    /** Heartbeat: a ping every this many seconds; no pong within the next as many, closed. */
    idleTimeoutSeconds: number;
    /** Open connections one token holder (`sub`) may have. */
    maxConnectionsPerToken: number;
    /** Open connections one client address may have. */
    maxConnectionsPerAddress: number;
    /** Bytes of live changes a subscription may hold while it catches up or snapshots. */
    maxCatchUpBytes: number;
  };
  crud: {
    maxBodyBytes: number;
    accessTokenTtlSeconds: number;
    refreshTokenTtlMs: number;
    passwordIterations: number;
    /** Password hashes computed at once; more wait (a login flood cannot starve the server). */
    passwordConcurrency: number;
    /** Requests that may wait for a hashing slot; more get 503 `overloaded` with Retry-After. */
    passwordQueue: number;
    /** Users registering with these addresses are admins (they may grant buckets). */
    adminEmails: string[];
    /** Requests per second per token (bursts up to twice that). */
    ratePerToken: number;
    /** Requests per second per client address (bursts up to twice that). */
    ratePerAddress: number;
    /** Register, login and refresh attempts per minute per address. */
    authAttemptsPerMinute: number;
    /** Origins allowed by CORS (`*` for any); none: no CORS headers. */
    corsOrigins: string[];
    /** Take the client address from X-Forwarded-For (behind a proxy you trust). */
    trustProxy: boolean;
  };
  /** The database-to-database sync service (SPEC §8) and its dashboard. */
  sync: {
    /** The sync YAML file; unset: no sync service. */
    configPath: string | undefined;
    /** Overrides the file's `server.port`. */
    port: number | undefined;
    dashboardPort: number;
    /** Where the dashboard finds the sync control API, and the token it presents. */
    apiUrl: string | undefined;
    apiToken: string | undefined;
  };
  // --- debezium branch ---
  /** `initial`: a source with no stored position publishes its tables' rows first (`op:"r"`). */
  snapshotMode: "initial" | "never";
  /** How envelopes are laid out on Kafka topics (SPEC §11). */
  kafkaLayout: KafkaLayout;
  /** The library the Kafka bus produces with (issue 13); admin and consumers use kafkajs. */
  kafkaClient: KafkaClientName;
  /** OpenTelemetry traces (Deno's built-in exporter, `OTEL_DENO=true`); read by Deno itself. */
  tracing: boolean;
  // --- end debezium branch ---
  embeddedPostgresPort: number;
  /** `deno task kafka`'s broker port (its controller listens on the next one). */
  embeddedKafkaPort: number;
  dataDir: string;
  checkpoints: {
    /** Scheduled checkpoints; none without it. */
    cron: string | undefined;
    /** The newest `count` of each bucket are kept, or those younger than `ms`. */
    retention: { count: number } | { ms: number };
    /** The buckets scheduled checkpoints cover; unset: every bucket that has rows. */
    buckets: string[] | undefined;
  };
  /** Where downloaded or unpacked tools (PostgreSQL binaries, Kafka jars) are kept between runs. */
  cacheDir: string;
}

/** The Kafka topic layout options of SPEC §11. */
export interface KafkaLayout {
  /** A delete is followed by a tombstone (same key, null value). */
  tombstones: boolean;
  /** Keys and values as Kafka Connect JSON `{schema, payload}`. */
  envelopeSchema: boolean;
}

/** kafkajs is the design's client; @platformatic/kafka is measured beside it (docs/kafka.md). */
export type KafkaClientName = "kafkajs" | "platformatic";

/** What a service cannot start without; checked together with everything else. */
export type Requirement = "database" | "jwt" | "kafka";

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export function loadConfig(
  requirements: readonly Requirement[] = [],
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Config {
  // An empty variable means "not set", as in most shells' `FOO= cmd`.
  const present = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ""),
  );
  const parsed = envSchema.safeParse(present);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((i) => `${i.path.join(".") || "environment"}: ${i.message}`);
  const e = parsed.success ? parsed.data : undefined;
  if (requirements.includes("database") && !present.DATABASE_URL) {
    problems.push("DATABASE_URL: required (postgres://user:password@host:5432/db)");
  }
  if (requirements.includes("kafka") && !present.KAFKA_BROKERS) {
    problems.push(
      "KAFKA_BROKERS: required: the standalone services reach each other through Kafka " +
        "(or run all three in one process with `deno task dev`)",
    );
  }
  // Outside dev mode (the standalone services require a secret), a weak secret is refused.
  if (requirements.includes("jwt")) {
    const weak = weakSecret(present.JWT_SECRET);
    if (weak) problems.push(`JWT_SECRET: ${weak}`);
  } else if (present.JWT_SECRET && weakSecret(present.JWT_SECRET)) {
    console.error(`WARNING: JWT_SECRET ${weakSecret(present.JWT_SECRET)}; dev mode goes on.`);
  }
  const sources: SourceConfig[] = [];
  if (e?.MYSQL_URL) {
    sources.push({
      connector: "mysql",
      name: e.MYSQL_SOURCE_NAME,
      url: e.MYSQL_URL,
      tables: e.MYSQL_TABLES,
      serverId: e.MYSQL_SERVER_ID,
    });
  }
  if (e?.MONGODB_URL) {
    sources.push({
      connector: "mongodb",
      name: e.MONGODB_SOURCE_NAME,
      url: e.MONGODB_URL,
      tables: e.MONGODB_COLLECTIONS,
      serverId: 0,
    });
  }
  for (const [i, s] of (e?.SOURCES ?? []).entries()) {
    sources.push({
      ...s,
      tables: s.tables,
      serverId: s.serverId ?? (e?.MYSQL_SERVER_ID ?? 5400) + i + 1,
    });
  }
  const names = [e?.PG_SOURCE_NAME, ...sources.map((s) => s.name)];
  for (const name of new Set(names.filter((n, i) => names.indexOf(n) !== i))) {
    problems.push(
      `source name "${name}" is used twice: each source needs its own name (it names its topics)`,
    );
  }
  if (problems.length > 0 || !e) throw new ConfigError(problems);

  return {
    databaseUrl: e.DATABASE_URL,
    kafka: e.KAFKA_BROKERS?.length
      ? {
        brokers: e.KAFKA_BROKERS,
        topicPrefix: e.KAFKA_TOPIC_PREFIX,
        partitions: e.KAFKA_PARTITIONS,
      }
      : undefined,
    topicPrefix: e.KAFKA_TOPIC_PREFIX,
    jwtSecret: e.JWT_SECRET,
    accessPolicyPath: e.ACCESS_POLICY,
    sources,
    postgres: {
      publication: e.PUBLICATION,
      slot: e.REPLICATION_SLOT,
      sourceName: e.PG_SOURCE_NAME,
      publicationTables: e.PUBLICATION_TABLES,
    },
    bucketColumn: e.BUCKET_COLUMN,
    host: e.HOST,
    ports: { crud: e.CRUD_PORT, gateway: e.GATEWAY_PORT, listener: e.LISTENER_PORT },
    listenerUrl: e.LISTENER_URL ??
      `http://${e.HOST === "0.0.0.0" ? "127.0.0.1" : e.HOST}:${e.LISTENER_PORT}`,
    logLevel: e.LOG_LEVEL,
    cursorRetentionMs: e.CURSOR_RETENTION_HOURS * 3_600_000,
    memoryBusMaxBytes: Math.round(e.MEMORY_BUS_MAX_MB * 1024 * 1024),
    envelopeMaxBytes: e.ENVELOPE_MAX_BYTES,
    gateway: {
      maxFrameBytes: e.WS_MAX_FRAME_BYTES,
      maxSubscriptions: e.WS_MAX_SUBSCRIPTIONS,
      maxBufferedBytes: e.WS_MAX_BUFFERED_BYTES,
      maxMessagesPerSecond: e.WS_MAX_MESSAGES_PER_SECOND,
      idleTimeoutSeconds: e.WS_IDLE_TIMEOUT_SECONDS,
      maxConnectionsPerToken: e.WS_MAX_CONNECTIONS_PER_TOKEN,
      maxConnectionsPerAddress: e.WS_MAX_CONNECTIONS_PER_ADDRESS,
      maxCatchUpBytes: e.WS_MAX_CATCHUP_BYTES,
    },
    crud: {
      maxBodyBytes: e.CRUD_MAX_BODY_BYTES,
      accessTokenTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlMs: e.REFRESH_TOKEN_TTL_DAYS * 86_400_000,
      passwordIterations: e.PASSWORD_HASH_ITERATIONS,
      passwordConcurrency: e.PASSWORD_HASH_CONCURRENCY,
      passwordQueue: e.PASSWORD_HASH_QUEUE,
      adminEmails: (e.ADMIN_EMAILS ?? []).map((m) => m.toLowerCase()),
      ratePerToken: e.CRUD_RATE_PER_SECOND,
      ratePerAddress: e.CRUD_RATE_PER_ADDRESS_PER_SECOND,
      authAttemptsPerMinute: e.AUTH_ATTEMPTS_PER_MINUTE,
      corsOrigins: e.CORS_ORIGINS ?? [],
      trustProxy: e.TRUST_PROXY === "true",
    },
    sync: {
      configPath: e.SYNC_CONFIG,
      port: present.SYNC_PORT === undefined ? undefined : e.SYNC_PORT,
      dashboardPort: e.DASHBOARD_PORT,
      apiUrl: e.SYNC_API_URL,
      apiToken: e.SYNC_API_TOKEN,
    },
    // --- debezium branch ---
    snapshotMode: e.SNAPSHOT_MODE,
    kafkaLayout: {
      tombstones: e.KAFKA_TOMBSTONES === "true",
      envelopeSchema: e.KAFKA_ENVELOPE_SCHEMA === "true",
    },
    kafkaClient: e.KAFKA_CLIENT,
    tracing: e.OTEL_DENO === "true",
    // --- end debezium branch ---
    embeddedPostgresPort: e.EMBEDDED_PG_PORT,
    embeddedKafkaPort: e.EMBEDDED_KAFKA_PORT,
    dataDir: e.DATA_DIR,
    checkpoints: {
      cron: e.CHECKPOINT_CRON,
      retention: retentionOf(e.CHECKPOINT_RETENTION),
      buckets: e.CHECKPOINT_BUCKETS,
    },
    cacheDir: e.CACHE_DIR ?? defaultCacheDir(e.XDG_CACHE_HOME, e.HOME),
  };
}

/** `7` → the newest 7 per bucket; `36h`, `14d`, `2w` → an age. */
function retentionOf(text: string): { count: number } | { ms: number } {
  const m = /^(\d+)(h|d|w)?$/.exec(text)!;
  const n = Number(m[1]);
  if (!m[2]) return { count: n };
  return { ms: n * { h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as "h" | "d" | "w"] };
}

/**
 * When root, the embedded database runs as an unprivileged user that must read the cached
 * binaries, so they go to a world-readable place rather than root's home.
 */
function defaultCacheDir(xdg: string | undefined, home: string | undefined): string {
  if (Deno.uid() === 0 || (!xdg && !home)) return "/var/tmp/synchub-cache";
  return `${xdg ?? `${home}/.cache`}/synchub`;
}

/** Placeholders people leave in: the examples of our own docs, and the usual suspects. */
const PLACEHOLDER =
  /placeholder|change-?me|changeit|example|insecure|your[-_]?secret|^secret$|xxxx/i;

/**
 * Why a JWT secret is too weak to run outside dev mode, or null: unset, shorter than 32 bytes,
 * a placeholder, or too few distinct characters to be random.
 */
export function weakSecret(secret: string | undefined): string | null {
  if (!secret) return "required outside dev mode (32 or more random bytes: openssl rand -hex 32)";
  if (new TextEncoder().encode(secret).length < 32) return "must be at least 32 bytes";
  if (PLACEHOLDER.test(secret)) return "is a placeholder: set your own random secret";
  if (new Set(secret).size < 10) return "is not random enough (too few distinct characters)";
  return null;
}

/**
 * The environment as it is now, for `${VAR}` references in configuration files (the sync YAML):
 * this module stays the one that reads it.
 */
export function environment(): Record<string, string> {
  return Deno.env.toObject();
}
