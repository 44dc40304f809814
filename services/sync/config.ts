/**
 * The sync service's configuration (SPEC §8.1): a YAML file named by SYNC_CONFIG, `${VAR}`
 * references expanded from the environment it is given, validated with every problem reported
 * at once. The environment comes in as a parameter: `main.ts` is the only place that reads it.
 * The parsed YAML document is kept beside the values so the control API can write the file back
 * with its comments and `${VAR}` references intact.
 */
import { isPair, isScalar, isSeq, parseDocument, visit } from "yaml";
import type { Document } from "yaml";
import { Cron } from "croner";
import { z } from "zod";
import { ConfigError } from "../../lib/config.ts";

export { ConfigError };

export const SIDES = ["local", "cloud"] as const;
export type Side = (typeof SIDES)[number];
export const MODES = ["local_to_cloud", "cloud_to_local", "bidirectional"] as const;
export type Mode = (typeof MODES)[number];
export const STRATEGIES = ["last_write_wins", "source_priority", "manual"] as const;
export type Strategy = (typeof STRATEGIES)[number];

const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]{0,63}$/, "a plain SQL identifier");
const tableName = z.string().regex(
  /^([A-Za-z_][A-Za-z0-9_$]{0,63}\.)?[A-Za-z_][A-Za-z0-9_$]{0,63}$/,
  "a table name, optionally qualified (schema.table or db.table)",
);
const dbUrl = z.string().refine((v) => {
  try {
    return ["mysql:", "mariadb:", "postgres:", "postgresql:"].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}, "must be a mysql:// or postgres:// URL");
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]);

const tableSchema = z.strictObject({
  name: tableName,
  /** Unset: read from the table's primary key. */
  primary_key: z.union([identifier, z.array(identifier).min(1)]).optional()
    .transform((v) => (v === undefined ? undefined : Array.isArray(v) ? v : [v])),
  timestamp_column: identifier.optional(),
  conflict_resolution: z.enum(STRATEGIES).optional(),
  priority: z.enum(SIDES).default("local"),
  ignore_columns: z.array(identifier).default([]),
}).superRefine((t, ctx) => {
  if (t.conflict_resolution === "last_write_wins" && !t.timestamp_column) {
    ctx.addIssue({
      code: "custom",
      path: ["conflict_resolution"],
      message: "last_write_wins needs a timestamp_column (or use source_priority or manual)",
    });
  }
  if (t.timestamp_column && t.primary_key?.includes(t.timestamp_column)) {
    ctx.addIssue({
      code: "custom",
      path: ["timestamp_column"],
      message: "must not be a primary-key column",
    });
  }
});

const stateStorageSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("sqlite"), path: z.string().min(1).optional() }),
  z.strictObject({ type: z.literal("postgres"), url: dbUrl }),
  z.strictObject({ type: z.literal("mysql"), url: dbUrl }),
]);

/** The file's shape (also the JSON of `GET`/`PUT /api/v1/config`). */
export const fileSchema = z.strictObject({
  databases: z.strictObject({
    local: z.strictObject({ url: dbUrl }),
    cloud: z.strictObject({ url: dbUrl }),
  }),
  state_storage: stateStorageSchema.optional(),
  sync: z.strictObject({
    mode: z.enum(MODES).default("bidirectional"),
    realtime: bool.default(true),
    workers: int(1, 64).default(4),
    batch_size: int(1, 50_000).default(1000),
    /** Names this instance in the no-echo marker rows (SPEC §8.2 "No echo"). */
    instance: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).default("synchub"),
    tables: z.array(tableSchema).min(1, "name at least one table").superRefine((tables, ctx) => {
      const seen = new Set<string>();
      for (const [i, t] of tables.entries()) {
        if (seen.has(t.name)) {
          ctx.addIssue({
            code: "custom",
            path: [i, "name"],
            message: `table ${t.name} is listed twice`,
          });
        }
        seen.add(t.name);
      }
    }),
  }),
  scheduler: z.strictObject({
    enabled: bool.default(false),
    cron: z.string().trim().min(1).default("*/10 * * * *").superRefine((pattern, ctx) => {
      const problem = cronProblem(pattern);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
  }).default({ enabled: false, cron: "*/10 * * * *" }),
  server: z.strictObject({
    port: int(0, 65535).default(8070),
    auth_token: z.string().min(1).optional(),
    cors_origins: z.array(z.string().regex(/^(\*|https?:\/\/[^\s/]+)$/, "an origin")).default([]),
  }).default({ port: 8070, cors_origins: [] }),
});

type Parsed = z.output<typeof fileSchema>;
export type TableConfig = Omit<Parsed["sync"]["tables"][number], "conflict_resolution"> & {
  conflict_resolution: Strategy;
};
export type StateStorageConfig =
  | { type: "sqlite"; path: string }
  | { type: "postgres" | "mysql"; url: string };
export interface SyncConfig {
  databases: Record<Side, { url: string }>;
  state_storage: StateStorageConfig;
  sync: Omit<Parsed["sync"], "tables"> & { tables: TableConfig[] };
  scheduler: Parsed["scheduler"];
  server: Parsed["server"];
}

export interface LoadedConfig {
  config: SyncConfig;
  /** The YAML as written (comments and `${VAR}` references kept), for writing it back. */
  document: Document;
  path: string;
}

type Env = Record<string, string | undefined>;

/** Reads and validates the file named by SYNC_CONFIG. */
export async function loadSyncConfig(env: Env): Promise<LoadedConfig> {
  const path = env.SYNC_CONFIG?.trim();
  if (!path) throw new ConfigError(["SYNC_CONFIG: required (the path of the sync YAML file)"]);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new ConfigError([`SYNC_CONFIG: cannot read ${path}: ${(err as Error).message}`]);
  }
  const { config, document } = parseSyncConfig(text, env);
  return { config, document, path };
}

/** Parses YAML text; throws a ConfigError listing every problem. */
export function parseSyncConfig(
  text: string,
  env: Env,
): { config: SyncConfig; document: Document } {
  const document = parseDocument(text, { prettyErrors: false });
  const problems = document.errors.map((e) => `YAML: ${e.message.split("\n")[0]}`);
  if (problems.length > 0) throw new ConfigError(problems);
  const expanded = expandEnv(document.clone(), env, problems);
  const config = validateSyncConfig(expanded.toJS(), env, problems);
  return { config, document };
}

/**
 * Validates a configuration object (the parsed file, or the JSON of PUT /api/v1/config) whose
 * `${VAR}` references are already expanded.
 */
export function validateSyncConfig(input: unknown, env: Env, problems: string[] = []): SyncConfig {
  const parsed = fileSchema.safeParse(input ?? {});
  if (!parsed.success) {
    for (const i of parsed.error.issues) {
      problems.push(`${i.path.join(".") || "(top level)"}: ${i.message}`);
    }
  }
  const c = parsed.success ? parsed.data : undefined;
  const port = env.SYNC_PORT?.trim();
  if (port && (!/^\d{1,5}$/.test(port) || Number(port) > 65535)) {
    problems.push("SYNC_PORT: must be a port number (0-65535)");
  }
  if (problems.length > 0 || !c) throw new ConfigError(problems);

  const dataDir = env.DATA_DIR?.trim() || ".data";
  const storage = c.state_storage ?? { type: "sqlite" };
  return {
    databases: c.databases,
    state_storage: storage.type === "sqlite"
      ? { type: "sqlite", path: storage.path ?? `${dataDir}/sync_state.db` }
      : storage,
    sync: {
      ...c.sync,
      tables: c.sync.tables.map((t) => ({
        ...t,
        conflict_resolution: t.conflict_resolution ??
          (t.timestamp_column ? "last_write_wins" : "source_priority"),
      })),
    },
    scheduler: c.scheduler,
    server: { ...c.server, port: port ? Number(port) : c.server.port },
  };
}

/** Why a cron pattern is not one (croner's message), or null. */
export function cronProblem(pattern: string): string | null {
  try {
    new Cron(pattern, { paused: true }).stop();
    return null;
  } catch (err) {
    return `not a cron pattern: ${(err as Error).message.replace(/^CronPattern: /, "")}`;
  }
}

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces `${VAR}` and `${VAR:-default}` in every string scalar; unset variables are problems. */
function expandEnv(doc: Document, env: Env, problems: string[]): Document {
  visit(doc, {
    Scalar(_key, node, path) {
      if (!isScalar(node) || typeof node.value !== "string" || !node.value.includes("${")) return;
      node.value = node.value.replace(REFERENCE, (_m, name: string, fallback?: string) => {
        const value = env[name];
        if (value !== undefined && value !== "") return value;
        if (fallback !== undefined) return fallback;
        problems.push(`${yamlPath(path, node)}: environment variable ${name} is not set`);
        return "";
      });
    },
  });
  return doc;
}

function yamlPath(path: readonly unknown[], leaf: unknown): string {
  const chain = [...path, leaf];
  const parts: string[] = [];
  for (const [i, node] of chain.entries()) {
    if (isPair(node) && isScalar(node.key)) parts.push(String(node.key.value));
    if (isSeq(node)) parts.push(String(node.items.indexOf(chain[i + 1] as never)));
  }
  return parts.join(".") || "(value)";
}
