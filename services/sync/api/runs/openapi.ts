/** The runs routes (runs/routes.ts) as OpenAPI paths. */
import { body, errors, type Json, queryParam, reply } from "../operation.ts";

export function runsPaths(paths: Json): void {
  paths["/api/v1/sync/trigger"] = {
    post: {
      summary: "Start a batch run (all tables in the configured mode unless told otherwise)",
      requestBody: { ...body("TriggerRequest"), required: false },
      responses: {
        202: {
          description: "{run_id}",
          content: {
            "application/json": {
              schema: { type: "object", properties: { run_id: { type: "string" } } },
            },
          },
        },
        ...errors(400, 401, 403, 409, 503),
      },
    },
  };
  paths["/api/v1/sync/stop"] = {
    post: {
      summary: "Cancel the run in progress between two batches; answers once it has stopped",
      responses: {
        200: {
          description: '{run_id, status: "cancelled"}',
          content: {
            "application/json": {
              schema: {
                type: "object",
                properties: { run_id: { type: "string" }, status: { type: "string" } },
              },
            },
          },
        },
        ...errors(401, 403, 409),
      },
    },
  };
  paths["/api/v1/sync/status"] = {
    get: {
      summary: "The run state, the current or last run, realtime, and every table",
      responses: { 200: reply("the status", "Status"), ...errors(401, 403) },
    },
  };
  paths["/api/v1/sync/history"] = {
    get: {
      summary: "Runs, newest first",
      parameters: [
        queryParam("limit", "1–100, default 20"),
        queryParam("before", "a run id: the runs before it"),
      ],
      responses: {
        200: {
          description: "{runs}",
          content: {
            "application/json": {
              schema: {
                type: "object",
                properties: {
                  runs: { type: "array", items: { $ref: "#/components/schemas/Run" } },
                },
              },
            },
          },
        },
        ...errors(400, 401, 403),
      },
    },
  };
  paths["/api/v1/sync/stream"] = {
    get: {
      summary:
        "Server-Sent Events: status, progress {run_id, table, rows_done, rows_total, percent}, " +
        "conflict, completed (the run), failed (the run); a heartbeat comment every 15 s; " +
        "Last-Event-ID replays what followed it",
      parameters: [
        queryParam("token", "the token, for EventSource (which cannot send headers)"),
        {
          name: "Last-Event-ID",
          in: "header",
          required: false,
          schema: { type: "string" },
          description: "the id of the last event received",
        },
      ],
      responses: {
        200: {
          description: "text/event-stream",
          content: { "text/event-stream": { schema: { type: "string" } } },
        },
        ...errors(401, 403),
      },
    },
  };
}
