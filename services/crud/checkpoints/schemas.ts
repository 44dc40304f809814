/** Checkpoint requests and answers as zod schemas: they validate and, as JSON Schema, document. */
import { z } from "zod";
import { text } from "../../../lib/text_value.ts";

export const checkpointRequestSchema = z.strictObject({
  bucket: text({ min: 1, max: 200 }),
  tables: z.array(text({ min: 1, max: 200 })).min(1).max(100).optional()
    .describe("tables as the REST API names them (`todos` or `public.todos`); default: all"),
}).meta({ id: "CheckpointRequest" });

export const checkpointSchema = z.object({
  id: z.string(),
  bucket: z.string(),
  tables: z.array(z.string()),
  status: z.enum(["pending", "ready", "failed"]),
  rows: z.number().int().describe("rows written (so far, while pending)"),
  bytes: z.number().int().describe("size of the gzip file (so far, while pending)"),
  ndjson_bytes: z.number().int().describe("size of the NDJSON, uncompressed"),
  cursor: z.string().nullable().describe(
    "resume a subscription to any of the tables from here: no gap, no duplicate",
  ),
  created_at: z.string().nullable().describe("the instant the rows are of"),
  requested_at: z.string(),
  completed_at: z.string().nullable(),
  progress: z.object({
    tables_done: z.number().int(),
    tables_total: z.number().int(),
    table: z.string().nullable(),
  }).nullable().describe("while pending"),
  error: z.string().nullable(),
  scheduled: z.boolean(),
}).meta({ id: "Checkpoint" });

export const checkpointListSchema = z.object({
  checkpoints: z.array(checkpointSchema),
}).meta({ id: "CheckpointList" });

export const restoreResultSchema = z.object({
  inserted: z.number().int(),
  updated: z.number().int(),
  deleted: z.number().int(),
  dry_run: z.boolean(),
}).meta({ id: "RestoreResult" });
