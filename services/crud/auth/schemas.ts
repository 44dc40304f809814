/**
 * Request bodies of the auth and admin endpoints as zod schemas: they validate requests and, as
 * JSON Schema, describe them in /openapi.json — one definition for both.
 */
import { z } from "zod";
import { SyncError } from "../../../lib/errors.ts";
import { text } from "../../../lib/text_value.ts";

const ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const TOP_LABEL = "[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
/**
 * The addresses accounts take: a dot-atom local part (at most 64 characters, which `format:
 * email` says too), then a host name with a top-level label. The same rule is the document's.
 */
export const EMAIL = new RegExp(`^${ATOM}(?:\\.${ATOM})*@(?:${LABEL}\\.)+${TOP_LABEL}$`);

export const emailSchema = text({
  max: 254,
  pattern: EMAIL,
  expected: "an email address",
  format: "email",
}).refine((v) => v.indexOf("@") <= 64, "at most 64 characters before the @");

/** A bucket id: no spaces, no `*` (that is "every bucket" in a token). */
// deno-lint-ignore no-control-regex -- NUL is refused: the database cannot store it
export const BUCKET = /^[^\s*\u0000]+$/;
export const bucketSchema = text({
  min: 1,
  max: 200,
  pattern: BUCKET,
  expected: "no spaces; '*' is not a bucket",
});

export const credentialsSchema = z.strictObject({
  email: emailSchema,
  // Hashed, never stored as it is: any characters.
  password: text({ min: 8, max: 1024, storable: false }),
}).meta({ id: "Credentials" });

/**
 * Logging in takes any address an account may have (older rules were looser than EMAIL): an
 * unknown one is the same generic 401 as a wrong password.
 */
export const loginSchema = z.strictObject({
  email: text({
    min: 3,
    max: 320,
    pattern: /^[^@\s]+@[^@\s]+$/,
    expected: "an email address",
  }),
  password: text({ min: 8, max: 1024, storable: false }),
}).meta({ id: "LoginRequest" });

export const refreshSchema = z.strictObject({
  refresh_token: text({ min: 1, max: 200, storable: false }),
}).meta({ id: "RefreshRequest" });

export const grantSchema = z.strictObject({ bucket: bucketSchema }).meta({ id: "BucketGrant" });

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
