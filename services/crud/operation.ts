/** Pieces of OpenAPI operations, shared by the modules that describe their routes. */
import { z } from "zod";

export type Json = Record<string, unknown>;

export function jsonSchema(schema: z.ZodType): Json {
  try {
    const { $schema: _, $ref, $defs, ...rest } = z.toJSONSchema(schema, {
      unrepresentable: "any",
      io: "input",
    }) as Json;
    // A schema with a meta id comes back as a $ref into $defs: inline it.
    const named = typeof $ref === "string" ? ($defs as Json)?.[$ref.split("/").pop()!] : undefined;
    return (named as Json) ?? rest;
  } catch {
    return { description: "see the table's columns (GET /v1/tables)" };
  }
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
  400: "bad_request, invalid_json or validation_failed (naming the column)",
  401: "unauthorized: missing, invalid or expired token",
  403: "forbidden: a bucket the token does not hold",
  404: "not_found",
  409: "conflict: the current row is in details.current",
  413: "payload_too_large",
  429: "rate_limited (see Retry-After)",
  503: "unavailable: the database is unreachable",
};

export const ifMatch = {
  name: "If-Match",
  in: "header",
  required: false,
  schema: { type: "string" },
  description: "the row version you last read; `*` for any",
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
