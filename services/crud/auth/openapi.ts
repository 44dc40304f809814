/** The accounts routes (auth/routes.ts) as OpenAPI paths and schemas. */
import {
  body,
  COMMON,
  errors,
  type Json,
  jsonSchema,
  pathParam,
  reply,
  SECURED,
  uuidSchema,
} from "../operation.ts";
import {
  bucketSchema,
  credentialsSchema,
  errorSchema,
  grantSchema,
  loginSchema,
  refreshSchema,
  tokensSchema,
  userSchema,
} from "./schemas.ts";

export function authSchemas(components: Json): void {
  Object.assign(components, {
    Credentials: jsonSchema(credentialsSchema, components),
    LoginRequest: jsonSchema(loginSchema, components),
    RefreshRequest: jsonSchema(refreshSchema, components),
    BucketGrant: jsonSchema(grantSchema, components),
    Tokens: jsonSchema(tokensSchema, components),
    User: jsonSchema(userSchema, components),
    Error: jsonSchema(errorSchema, components),
  });
}

export function authPaths(): Json {
  return {
    "/v1/auth/register": {
      post: {
        summary: "Create an account (with a personal bucket)",
        requestBody: body("Credentials"),
        responses: { 201: reply("the account", "User"), ...errors(400, 409, 413, ...COMMON) },
      },
    },
    "/v1/auth/login": {
      post: {
        summary: "Exchange credentials for tokens",
        requestBody: body("LoginRequest"),
        responses: { 200: reply("tokens", "Tokens"), ...errors(400, 401, 413, ...COMMON) },
      },
    },
    "/v1/auth/refresh": {
      post: {
        summary: "Rotate a refresh token for new tokens",
        requestBody: body("RefreshRequest"),
        responses: { 200: reply("tokens", "Tokens"), ...errors(400, 401, 413, ...COMMON) },
      },
    },
    "/v1/auth/logout": {
      post: {
        summary: "Revoke a refresh token and its family",
        requestBody: body("RefreshRequest"),
        responses: { 204: reply("revoked"), ...errors(400, 413, ...COMMON) },
      },
    },
    "/v1/auth/me": {
      get: {
        summary: "The token's account",
        security: [{ bearer: [] }],
        responses: { 200: reply("the account", "User"), ...errors(...SECURED) },
      },
    },
    "/v1/admin/users/{id}/buckets": {
      post: {
        summary: "Grant a bucket (admins)",
        security: [{ bearer: [] }],
        parameters: [pathParam("id", uuidSchema)],
        requestBody: body("BucketGrant"),
        responses: {
          200: reply("the account", "User"),
          ...errors(400, 403, 404, 413, ...SECURED),
        },
      },
    },
    "/v1/admin/users/{id}/buckets/{bucket}": {
      delete: {
        summary: "Withdraw a granted bucket (admins)",
        security: [{ bearer: [] }],
        parameters: [
          pathParam("id", uuidSchema),
          pathParam("bucket", jsonSchema(bucketSchema, {})),
        ],
        responses: { 200: reply("the account", "User"), ...errors(400, 403, 404, ...SECURED) },
      },
    },
  };
}
