/**
 * Request bodies of the auth and admin endpoints as zod schemas: they validate requests and, as
 * JSON Schema, describe them in /openapi.json — one definition for both.
 */
import { z } from "zod";
import { SyncError } from "../../../lib/errors.ts";

export const credentialsSchema = z.strictObject({
  email: z.email("an email address").max(320),
  password: z.string().min(8, "at least 8 characters").max(1024),
}).meta({ id: "Credentials" });

export const refreshSchema = z.strictObject({
  refresh_token: z.string().min(1).max(200),
}).meta({ id: "RefreshRequest" });

export const grantSchema = z.strictObject({
  bucket: z.string().min(1).max(200).regex(/^[^\s*]+$/, "no spaces; '*' is not a bucket"),
}).meta({ id: "BucketGrant" });

export const tokensSchema = z.object({
  access_token: z.string(),
  refresh_token: z.string(),
  expires_in: z.number().int().describe("seconds until the access token expires"),
  token_type: z.literal("Bearer"),
}).meta({ id: "Tokens" });

export const userSchema = z.object({
  id: z.string(),
  email: z.string().nullable(),
  admin: z.boolean(),
  buckets: z.array(z.string()),
}).meta({ id: "User" });

export const errorSchema = z.object({
  error: z.object({
    code: z.string().describe("stable code: see the README"),
    message: z.string(),
    details: z.unknown().optional(),
  }),
}).meta({ id: "Error" });

/** Parses a body with a schema, or a `validation_failed` naming the first bad field. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({
    field: i.code === "unrecognized_keys" ? i.keys.join(", ") : i.path.join(".") || "(body)",
    message: i.message,
  }));
  throw new SyncError("validation_failed", `${issues[0]!.field}: ${issues[0]!.message}`, {
    fields: issues,
  });
}
