/** The accounts routes (auth/routes.ts) as OpenAPI paths and schemas. */
import { body, errors, type Json, jsonSchema, pathParam, reply } from "../operation.ts";
import {
  credentialsSchema,
  errorSchema,
  grantSchema,
  refreshSchema,
  tokensSchema,
  userSchema,
} from "./schemas.ts";

export function authSchemas(): Json {
  return {
    Credentials: jsonSchema(credentialsSchema),
    RefreshRequest: jsonSchema(refreshSchema),
    BucketGrant: jsonSchema(grantSchema),
    Tokens: jsonSchema(tokensSchema),
    User: jsonSchema(userSchema),
    Error: jsonSchema(errorSchema),
  };
}

export function authPaths(): Json {
  return {
    "/v1/auth/register": {
      post: {
        summary: "Create an account (with a personal bucket)",
        requestBody: body("Credentials"),
        responses: { 201: reply("the account", "User"), ...errors(400, 409, 429) },
      },
    },
    "/v1/auth/login": {
      post: {
        summary: "Exchange credentials for tokens",
        requestBody: body("Credentials"),
        responses: { 200: reply("tokens", "Tokens"), ...errors(400, 401, 429) },
      },
    },
    "/v1/auth/refresh": {
      post: {
        summary: "Rotate a refresh token for new tokens",
        requestBody: body("RefreshRequest"),
        responses: { 200: reply("tokens", "Tokens"), ...errors(400, 401, 429) },
      },
    },
    "/v1/auth/logout": {
      post: {
        summary: "Revoke a refresh token and its family",
        requestBody: body("RefreshRequest"),
        responses: { 204: reply("revoked"), ...errors(400, 429) },
      },
    },
    "/v1/auth/me": {
      get: {
        summary: "The token's account",
        security: [{ bearer: [] }],
        responses: { 200: reply("the account", "User"), ...errors(401) },
      },
    },
    "/v1/admin/users/{id}/buckets": {
      post: {
        summary: "Grant a bucket (admins)",
        security: [{ bearer: [] }],
        parameters: [pathParam("id")],
        requestBody: body("BucketGrant"),
        responses: { 200: reply("the account", "User"), ...errors(400, 401, 403, 404) },
      },
    },
    "/v1/admin/users/{id}/buckets/{bucket}": {
      delete: {
        summary: "Withdraw a granted bucket (admins)",
        security: [{ bearer: [] }],
        parameters: [pathParam("id"), pathParam("bucket")],
        responses: { 200: reply("the account", "User"), ...errors(401, 403, 404) },
      },
    },
  };
}
