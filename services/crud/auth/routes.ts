/**
 * Accounts (SPEC §5.1): register, login, refresh, logout, me; and the admin's bucket grants.
 * Access tokens are the JWTs the gateway accepts; refresh tokens rotate (see users.ts).
 */
import { Hono } from "hono";
import { SyncError } from "../../../lib/errors.ts";
import type { HubEvents } from "../../../lib/events.ts";
import { signToken } from "../../../lib/jwt.ts";
import type { CrudEnv, JsonBody } from "../env.ts";
import { uuidOf } from "../../../lib/uuid.ts";
import {
  bucketSchema,
  credentialsSchema,
  grantSchema,
  loginSchema,
  parseBody,
  refreshSchema,
} from "./schemas.ts";
import { normalizeEmail, type User, type UserStore } from "./users.ts";

export interface AuthDeps {
  users: UserStore;
  jwtSecret: string;
  accessTokenTtlSeconds: number;
  jsonBody: JsonBody;
  /** Throws `rate_limited` when this account has had too many login attempts. */
  limitAccount: (email: string) => void;
  /** SPEC §10: user.created, bucket.assigned. */
  events?: HubEvents | undefined;
}

/** Mounted under /v1: /auth/* and /admin/*. */
export function authApp(deps: AuthDeps): Hono<CrudEnv> {
  const app = new Hono<CrudEnv>();
  const { users, jsonBody } = deps;

  const tokens = async (user: User, refreshToken: string) => ({
    access_token: await signToken(
      deps.jwtSecret,
      // An admin's token may do everything (the access policy's `admin`); its buckets are its own.
      { sub: user.id, buckets: user.buckets, ...(user.admin ? { role: "admin" } : {}) },
      deps.accessTokenTtlSeconds,
    ),
    refresh_token: refreshToken,
    expires_in: deps.accessTokenTtlSeconds,
    token_type: "Bearer" as const,
  });

  app.post("/auth/register", async (c) => {
    const { email, password } = parseBody(credentialsSchema, await jsonBody(c.req.raw));
    const user = await users.register(email, password);
    // Not awaited: the account exists whether or not the bus takes the news at once.
    void deps.events?.emit("user.created", { user_id: user.id }).then(() =>
      Promise.all(
        user.buckets.map((bucket) =>
          deps.events?.emit("bucket.assigned", { user_id: user.id, bucket })
        ),
      )
    );
    return c.json(user, 201);
  });

  app.post("/auth/login", async (c) => {
    const { email, password } = parseBody(loginSchema, await jsonBody(c.req.raw));
    deps.limitAccount(normalizeEmail(email));
    const user = await users.authenticate(email, password);
    return c.json(await tokens(user, await users.issueRefreshToken(user.id)));
  });

  app.post("/auth/refresh", async (c) => {
    const { refresh_token } = parseBody(refreshSchema, await jsonBody(c.req.raw));
    const { user, refreshToken } = await users.rotate(refresh_token);
    return c.json(await tokens(user, refreshToken));
  });

  app.post("/auth/logout", async (c) => {
    const { refresh_token } = parseBody(refreshSchema, await jsonBody(c.req.raw));
    await users.revoke(refresh_token);
    return c.body(null, 204);
  });

  app.get("/auth/me", async (c) => {
    const claims = c.get("claims");
    const user = await users.get(claims.sub);
    // Tokens minted elsewhere (dev tokens) have no account: describe the token itself.
    return c.json(user ?? { id: claims.sub, email: null, admin: false, buckets: claims.buckets });
  });

  /** An admin: the token says so and the database agrees (a revoked admin's old token is refused). */
  const requireAdmin = async (sub: string, role: string | undefined) => {
    if (role !== "admin" || !(await users.get(sub))?.admin) {
      throw new SyncError("forbidden", "only an admin may grant buckets");
    }
  };

  app.post("/admin/users/:id/buckets", async (c) => {
    const id = uuidOf(c.req.param("id"), "the user id");
    await requireAdmin(c.get("claims").sub, c.get("claims").role);
    const { bucket } = parseBody(grantSchema, await jsonBody(c.req.raw));
    const user = await users.grant(id, bucket);
    void deps.events?.emit("bucket.assigned", { user_id: user.id, bucket });
    return c.json(user);
  });

  app.delete("/admin/users/:id/buckets/:bucket", async (c) => {
    const id = uuidOf(c.req.param("id"), "the user id");
    const bucket = parseBody(bucketSchema, c.req.param("bucket"));
    await requireAdmin(c.get("claims").sub, c.get("claims").role);
    return c.json(await users.ungrant(id, bucket));
  });
  return app;
}
