/** The checkpoint and bucket-data routes as OpenAPI paths and schemas. */
import { body, errors, type Json, jsonSchema, pathParam, queryParam, reply } from "../operation.ts";
import {
  checkpointListSchema,
  checkpointRequestSchema,
  checkpointSchema,
  restoreResultSchema,
} from "./schemas.ts";

export function checkpointSchemas(): Json {
  return {
    CheckpointRequest: jsonSchema(checkpointRequestSchema),
    Checkpoint: jsonSchema(checkpointSchema),
    CheckpointList: jsonSchema(checkpointListSchema),
    RestoreResult: jsonSchema(restoreResultSchema),
  };
}

const ndjson = (description: string) => ({
  description,
  content: { "application/x-ndjson": { schema: { type: "string" } } },
});

export function checkpointPaths(): Json {
  const secured = { security: [{ bearer: [] }], tags: ["checkpoints"] };
  const id = pathParam("id", "the checkpoint's id");
  return {
    "/v1/checkpoints": {
      post: {
        ...secured,
        summary:
          "Make a checkpoint of a bucket: every readable row as of one instant, and a cursor",
        requestBody: body("CheckpointRequest"),
        responses: {
          202: reply("pending; poll it until ready (or failed)", "Checkpoint"),
          ...errors(400, 401, 403, 404, 503),
        },
      },
      get: {
        ...secured,
        summary: "Checkpoints the token may read, newest first",
        parameters: [queryParam("bucket", "only this bucket's")],
        responses: { 200: reply("the checkpoints", "CheckpointList"), ...errors(401) },
      },
    },
    "/v1/checkpoints/{id}": {
      get: {
        ...secured,
        summary: "A checkpoint's metadata (with its progress while pending)",
        parameters: [id],
        responses: { 200: reply("the checkpoint", "Checkpoint"), ...errors(401, 403, 404) },
      },
    },
    "/v1/checkpoints/{id}/download": {
      get: {
        ...secured,
        summary:
          "The checkpoint as NDJSON: {checkpoint, cursor, tables}, then {table, row} lines " +
          "(gzip when Accept-Encoding allows it)",
        parameters: [id],
        responses: {
          200: ndjson("the header line, then one line per row"),
          ...errors(401, 403, 404, 409),
        },
      },
    },
    "/v1/checkpoints/{id}/restore": {
      post: {
        ...secured,
        summary: "Rewrite the bucket to the checkpoint's state as ordinary writes (admins)",
        parameters: [id, queryParam("dry_run", "true: count the differences, write nothing")],
        responses: {
          200: reply("the rows written (or that would be)", "RestoreResult"),
          ...errors(401, 403, 404, 409),
        },
      },
    },
    "/v1/buckets/{id}/data": {
      get: {
        ...secured,
        tags: ["buckets"],
        summary: "The bucket's current readable rows as NDJSON {table, row} lines, then {cursor}",
        parameters: [
          pathParam("id", "the bucket"),
          queryParam("tables", "comma-separated tables (`todos,public.notes`); default: all"),
        ],
        responses: {
          200: ndjson("row lines, then a last line {cursor} (or {error} if reading failed)"),
          ...errors(400, 401, 403, 404, 503),
        },
      },
    },
  };
}
