/**
 * The control API's bodies and answers as zod schemas (SPEC §8.3): requests are validated with
 * them, and the OpenAPI document is generated from the same schemas, so the two cannot drift.
 */
import { z } from "zod";
import { SyncError } from "../../../lib/errors.ts";
import { MODES } from "../config.ts";

export const triggerBody = z.strictObject({
  tables: z.array(z.string().min(1)).min(1).optional(),
  direction: z.enum(MODES).optional(),
});

export const resolveBody = z.strictObject({
  resolution: z.enum(["local", "cloud", "custom"]),
  data: z.record(z.string(), z.unknown()).optional(),
}).refine((b) => b.resolution !== "custom" || b.data !== undefined, {
  path: ["data"],
  message: "custom resolution takes the whole row in data",
});

const limit = (max: number, fallback: number) =>
  z.coerce.number().int().min(1).max(max).default(fallback);

export const conflictsQuery = z.strictObject({
  status: z.enum(["unresolved", "resolved", "all"]).default("unresolved"),
  table: z.string().min(1).optional(),
  limit: limit(1000, 100),
  after: z.string().min(1).optional(),
});

export const historyQuery = z.strictObject({
  limit: limit(100, 20),
  before: z.string().min(1).optional(),
});

const row = z.record(z.string(), z.unknown());

export const runTable = z.object({
  name: z.string(),
  rows_done: z.number().int(),
  rows_total: z.number().int(),
  percent: z.number().int().min(0).max(100),
});

export const run = z.object({
  id: z.string(),
  status: z.enum(["running", "completed", "failed", "cancelled"]),
  direction: z.enum(MODES),
  started_at: z.string(),
  completed_at: z.string().nullable(),
  total_rows: z.number().int().describe("rows written"),
  conflicts_detected: z.number().int(),
  tables: z.array(runTable),
  error: z.string().nullable(),
});

export const conflict = z.object({
  id: z.string(),
  table: z.string().describe("as named in the configuration"),
  primary_key: row,
  local_data: row.nullable(),
  cloud_data: row.nullable(),
  conflict_type: z.enum(["update_update", "update_delete", "diverged", "apply_error"]),
  detected_at: z.string(),
  resolved: z.boolean(),
  resolution_strategy: z.string().nullable(),
  resolved_at: z.string().nullable(),
  resolved_data: row.nullable(),
  error: z.string().nullable().describe("apply_error: what the target said"),
});

export const status = z.object({
  state: z.enum(["idle", "running", "completed", "failed", "cancelled"]),
  run: run.nullable(),
  realtime: z.object({
    enabled: z.boolean(),
    running: z.boolean(),
    failed: z.string().nullable(),
  }),
  connected: z.boolean().describe("both databases are open"),
  tables: z.array(z.object({
    name: z.string(),
    direction: z.enum(["local_to_cloud", "cloud_to_local"]),
    status: z.string(),
    rows_synced: z.number().int(),
    lag_ms: z.number().nullable(),
    position: z.string().nullable(),
    error: z.string().nullable(),
    last_sync_time: z.string().nullable(),
  })),
});

export const error = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

/** Parses or throws a 400 naming every problem with its path. */
export function parseWith<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`);
  throw new SyncError("bad_request", problems.join("; "), { problems });
}
