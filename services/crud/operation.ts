/** Pieces of OpenAPI operations, shared by the modules that describe their routes. */
import { z } from "zod";
import type { TableInfo } from "../../lib/catalog.ts";
import { UUID } from "../../lib/uuid.ts";

export type Json = Record<string, unknown>;

/**
 * A zod schema as JSON Schema. The definitions it refers to (`$defs`: named schemas, recursive
 * ones) are moved into `components` — the document's `components.schemas` — and referred to there.
 */
export function jsonSchema(schema: z.ZodType, components: Json): Json {
  let generated: Json;
  try {
    generated = z.toJSONSchema(schema, { unrepresentable: "any", io: "input" }) as Json;
  } catch {
    return { description: "see the table's columns (GET /v1/tables)" };
  }
  const { $schema: _, $ref, $defs, ...rest } = generated;
  const defs = ($defs ?? {}) as Record<string, Json>;
  const names = new Map(Object.keys(defs).map((k) => [k, componentName(k, defs[k]!)]));
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (typeof node !== "object" || node === null) return node;
    return Object.fromEntries(
      Object.entries(node).map(([k, v]) =>
        k === "$ref" && typeof v === "string" && v.startsWith("#/$defs/")
          ? [k, `#/components/schemas/${names.get(v.slice(8)) ?? v.slice(8)}`]
          : [k, rewrite(v)]
      ),
    );
  };
  // A schema with a meta id comes back as a $ref into $defs: it is inlined, the rest hoisted.
  const own = typeof $ref === "string" ? $ref.slice(8) : undefined;
  for (const [key, def] of Object.entries(defs)) {
    if (key !== own) components[names.get(key)!] = rewrite(def);
  }
  return rewrite(own !== undefined ? defs[own] : rest) as Json;
}

/** Named definitions keep their name; anonymous ones (zod's `__schemaN`) are named by content. */
function componentName(key: string, def: Json): string {
  if (!key.startsWith("__schema")) return key;
  let h = 0x811c9dc5;
  for (const ch of JSON.stringify(def)) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return `Anonymous${h.toString(16)}`;
}

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const body = (name: string) => ({
  required: true,
  content: { "application/json": { schema: ref(name) } },
});
export const reply = (description: string, name?: string, headers?: Json) => ({
  description,
  ...(headers ? { headers } : {}),
  ...(name ? { content: { "application/json": { schema: ref(name) } } } : {}),
});

const retryAfter = (required: boolean) => ({
  "Retry-After": {
    required,
    description: "seconds to wait before trying again",
    schema: { type: "string", pattern: "^[0-9]+$" },
  },
});

/** Error replies, by status; 429 and 503 say when to come back. */
export const errors = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((c) => [
      String(c),
      reply(
        ERROR_TEXT[c] ?? "error",
        "Error",
        c === 429 ? retryAfter(true) : c === 503 ? retryAfter(false) : undefined,
      ),
    ]),
  );
const ERROR_TEXT: Record<number, string> = {
  400: "bad_request, invalid_json or validation_failed (naming the column)",
  401: "unauthorized: missing, invalid or expired token",
  403: "forbidden: a bucket the token does not hold",
  404: "not_found",
  409: "conflict: the current row is in details.current",
  413: "payload_too_large",
  429: "rate_limited (see Retry-After)",
  503: "unavailable: the database is unreachable; or overloaded (see Retry-After)",
};

/** What every operation under /v1 may answer besides its own: the per-address limit, a database away. */
export const COMMON = [429, 503] as const;
/** What every operation taking a token may answer. */
export const SECURED = [401, 429, 503] as const;

/** A UUID, as the API checks one (lib/uuid.ts). */
export const uuidSchema = { type: "string", format: "uuid", pattern: UUID.source };

export function pathParam(name: string, schema: Json = { type: "string" }, description?: string) {
  return {
    name,
    in: "path",
    required: true,
    schema,
    ...(description ? { description } : {}),
  };
}

export function queryParam(name: string, description: string, schema: Json = { type: "string" }) {
  return { name, in: "query", required: false, schema, description };
}

/** The names a request may give a table: `schema.table`, and the bare name where it resolves. */
export function namesOf(tables: readonly TableInfo[], table: TableInfo): string[] {
  const same = tables.filter((t) => t.name === table.name);
  const bare = table.schema === "public" ||
    (same.length === 1 && !same.some((t) => t.schema === "public"));
  return bare ? [table.qualified, table.name] : [table.qualified];
}
