/**
 * `GET /api/v1/openapi.json`: the control API described by its route groups (runs/, conflicts/,
 * config/), with schemas generated from the zod schemas that validate the requests.
 */
import type { Hono } from "hono";
import { fileSchema } from "../config.ts";
import { configPaths } from "./config/openapi.ts";
import { conflictsPaths } from "./conflicts/openapi.ts";
import type { ControlEnv } from "./env.ts";
import { errors, type Json, jsonSchema } from "./operation.ts";
import { runsPaths } from "./runs/openapi.ts";
import * as s from "./schemas.ts";

export function openApiDocument(): Json {
  const paths: Json = {};
  runsPaths(paths);
  conflictsPaths(paths);
  configPaths(paths);
  paths["/api/v1/metrics"] = {
    get: {
      summary: "Prometheus text: runs, durations, rows per table and direction, conflicts, " +
        "errors, realtime lag, requests",
      responses: { 200: { description: "text/plain; version=0.0.4" }, ...errors(401, 403) },
    },
  };
  return {
    openapi: "3.1.0",
    info: {
      title: "SyncHub sync control API",
      version: "1",
      description: "Runs, progress (SSE), conflicts and configuration of the sync service. " +
        'Errors: {"error":{"code","message","details"}}. /health and /ready need no token.',
    },
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
        TriggerRequest: jsonSchema(s.triggerBody, "input"),
        ResolveRequest: jsonSchema(s.resolveBody, "input"),
        Run: jsonSchema(s.run),
        Conflict: jsonSchema(s.conflict),
        Status: jsonSchema(s.status),
        Config: jsonSchema(fileSchema, "input"),
        Error: jsonSchema(s.error),
      },
    },
    paths,
  };
}

export function mountOpenApi(app: Hono<ControlEnv>): void {
  let doc: Json | undefined;
  app.get("/api/v1/openapi.json", (c) => c.json(doc ??= openApiDocument()));
}
