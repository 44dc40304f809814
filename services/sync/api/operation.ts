/** Pieces of OpenAPI operations, shared by the modules that describe their routes. */
import { z } from "zod";

export type Json = Record<string, unknown>;

export function jsonSchema(schema: z.ZodType, io: "input" | "output" = "output"): Json {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { unrepresentable: "any", io }) as Json;
  return rest;
}

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const body = (name: string) => ({
  required: true,
  content: { "application/json": { schema: ref(name) } },
});
export const reply = (description: string, name?: string) => ({
  description,
  ...(name ? { content: { "application/json": { schema: ref(name) } } } : {}),
});
export const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), reply(ERROR_TEXT[c] ?? "error", "Error")]));
const ERROR_TEXT: Record<number, string> = {
  400: "bad_request or invalid_json; details.problems lists every problem",
  401: "unauthorized: missing or wrong token",
  403: "forbidden: a hub token without role admin",
  404: "not_found",
  409: "conflict: a run is (or is not) in progress, or already resolved",
  413: "payload_too_large",
  503: "unavailable: the databases are not connected yet",
};

export function pathParam(name: string, description?: string) {
  return {
    name,
    in: "path",
    required: true,
    schema: { type: "string" },
    ...(description ? { description } : {}),
  };
}

export function queryParam(name: string, description: string) {
  return { name, in: "query", required: false, schema: { type: "string" }, description };
}
