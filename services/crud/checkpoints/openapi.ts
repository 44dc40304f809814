/** The checkpoint and bucket-data routes as OpenAPI paths and schemas. */
import type { TableInfo } from "../../../lib/catalog.ts";
import { NO_NUL } from "../../../lib/text_value.ts";
import {
  body,
  errors,
  type Json,
  jsonSchema,
  namesOf,
  pathParam,
  queryParam,
  reply,
  SECURED,
  uuidSchema,
} from "../operation.ts";
import {
  checkpointListSchema,
  checkpointRequestSchema,
  checkpointSchema,
  restoreResultSchema,
} from "./schemas.ts";

/**
 * `bucketTables`: the served tables that have a bucket column — the only ones a checkpoint or a
 * bucket's data may name (others are a 400).
 */
export function checkpointSchemas(bucketTables: readonly TableInfo[], components: Json): void {
  const request = jsonSchema(checkpointRequestSchema, components);
  const names = tableNameEnum(bucketTables);
  const properties = request.properties as Json;
  properties.tables = { ...(properties.tables as Json), items: names };
  Object.assign(components, {
    CheckpointRequest: request,
    Checkpoint: jsonSchema(checkpointSchema, components),
    CheckpointList: jsonSchema(checkpointListSchema, components),
    RestoreResult: jsonSchema(restoreResultSchema, components),
  });
}

function tableNameEnum(tables: readonly TableInfo[]): Json {
  const names = tables.flatMap((t) => namesOf(tables, t));
  return names.length ? { type: "string", enum: names } : { type: "string", not: {} };
}

const ndjson = (description: string) => ({
  description,
  content: { "application/x-ndjson": { schema: { type: "string" } } },
});

export function checkpointPaths(bucketTables: readonly TableInfo[]): Json {
  const secured = { security: [{ bearer: [] }], tags: ["checkpoints"] };
  const id = pathParam("id", uuidSchema, "the checkpoint's id");
  const text = { type: "string", pattern: NO_NUL.source };
  return {
    "/v1/checkpoints": {
      post: {
        ...secured,
        summary:
          "Make a checkpoint of a bucket: every readable row as of one instant, and a cursor",
        requestBody: body("CheckpointRequest"),
        responses: {
          202: reply("pending; poll it until ready (or failed)", "Checkpoint"),
          ...errors(400, 403, 404, 413, ...SECURED),
        },
      },
      get: {
        ...secured,
        summary: "Checkpoints the token may read, newest first",
        parameters: [queryParam("bucket", "only this bucket's", text)],
        responses: { 200: reply("the checkpoints", "CheckpointList"), ...errors(400, ...SECURED) },
      },
    },
    "/v1/checkpoints/{id}": {
      get: {
        ...secured,
        summary: "A checkpoint's metadata (with its progress while pending)",
        parameters: [id],
        responses: {
          200: reply("the checkpoint", "Checkpoint"),
          ...errors(400, 403, 404, ...SECURED),
        },
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
          ...errors(400, 403, 404, 409, ...SECURED),
        },
      },
    },
    "/v1/checkpoints/{id}/restore": {
      post: {
        ...secured,
        summary: "Rewrite the bucket to the checkpoint's state as ordinary writes (admins)",
        parameters: [
          id,
          queryParam("dry_run", "true, 1 or empty: count the differences, write nothing"),
        ],
        responses: {
          200: reply("the rows written (or that would be)", "RestoreResult"),
          ...errors(400, 403, 404, 409, ...SECURED),
        },
      },
    },
    "/v1/buckets/{id}/data": {
      get: {
        ...secured,
        tags: ["buckets"],
        summary: "The bucket's current readable rows as NDJSON {table, row} lines, then {cursor}",
        parameters: [
          pathParam("id", text, "the bucket"),
          {
            ...queryParam(
              "tables",
              "tables as the REST API names them (`todos,public.notes`); absent: all",
              { type: "array", minItems: 1, items: tableNameEnum(bucketTables) },
            ),
            style: "form",
            explode: false,
          },
        ],
        responses: {
          200: ndjson("row lines, then a last line {cursor} (or {error} if reading failed)"),
          ...errors(400, 403, 404, ...SECURED),
        },
      },
    },
  };
}
