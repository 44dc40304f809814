/**
 * What every control API request passes (SPEC §8.3): request metrics and a log line, CORS for
 * `server.cors_origins` only (read per request, so a configuration change applies at once;
 * preflights are answered before authentication), then for `/api/*` the token — the
 * configured `server.auth_token`, compared in constant time, or a hub JWT with `role: "admin"`
 * (a valid non-admin JWT is a 403). `/health`, `/ready` and `/metrics` stay open.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Hono } from "hono";
import { cors } from "hono/cors";
import { principalOf } from "../../../lib/access.ts";
import { SyncError } from "../../../lib/errors.ts";
import { methodLabel, routeLabeler } from "../../../lib/http/routes.ts";
import { tokenFromRequest, type TokenVerifier } from "../../../lib/jwt.ts";
import type { Logger } from "../../../lib/log.ts";
import type { Registry } from "../../../lib/metrics.ts";
import type { SyncConfig } from "../config.ts";
import type { ControlEnv } from "./env.ts";

/** The one route that takes `?token=`: EventSource cannot send headers. */
export const STREAM_PATH = "/api/v1/sync/stream";

export interface GuardDeps {
  config: () => SyncConfig;
  /** Hub JWTs (JWT_SECRET set); unset: only server.auth_token. */
  verifyToken: TokenVerifier | undefined;
  registry: Registry;
  log: Logger;
}

export function installGuards(app: Hono<ControlEnv>, deps: GuardDeps): void {
  const { registry, log } = deps;
  const requests = registry.counter(
    "synchub_sync_http_requests_total",
    "Control API requests, by method, route and status.",
  );
  const duration = registry.histogram(
    "synchub_sync_http_request_duration_seconds",
    "Control API request durations in seconds, by route.",
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  );

  // Labels from fixed sets only: a client's paths and methods never become series.
  const routeOf = routeLabeler(app);
  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    const seconds = (performance.now() - started) / 1000;
    const route = routeOf(c);
    requests.inc({ method: methodLabel(c.req.method), route, status: String(c.res.status) });
    duration.observe(seconds, { route });
    const quiet = c.req.path === "/health" || c.req.path === "/ready" || c.req.path === "/metrics";
    (quiet ? log.debug : log.info)("request", {
      method: c.req.method,
      route,
      status: c.res.status,
      ms: Math.round(seconds * 1000),
      caller: c.get("caller"),
    });
  });

  app.use(cors({
    origin: (origin) => {
      const allowed = deps.config().server.cors_origins;
      if (allowed.includes("*")) return "*";
      return allowed.includes(origin) ? origin : null;
    },
    allowHeaders: ["authorization", "content-type", "last-event-id"],
    allowMethods: ["GET", "POST", "PUT", "OPTIONS"],
    exposeHeaders: ["x-sync-applied", "x-sync-restart-required"],
    maxAge: 600,
  }));

  app.use("/api/*", async (c, next) => {
    const token = tokenFromRequest(c.req.raw, { query: c.req.path === STREAM_PATH });
    if (!token) {
      throw unauthorized("a token is required: Authorization: Bearer <server.auth_token>");
    }
    const expected = deps.config().server.auth_token;
    if (expected !== undefined && sameSecret(token, expected)) {
      c.set("caller", "token");
      return await next();
    }
    if (deps.verifyToken && token.split(".").length === 3) {
      const claims = await deps.verifyToken(token).catch(() => {
        throw unauthorized("invalid or expired token");
      });
      // Who is an admin is lib/access.ts's rule (claim role: "admin"), as everywhere else.
      if (!principalOf(claims).admin) {
        throw new SyncError("forbidden", "the sync control API needs an admin token");
      }
      c.set("caller", claims.sub);
      return await next();
    }
    throw unauthorized(
      expected === undefined && !deps.verifyToken
        ? "no token is accepted: set server.auth_token (or JWT_SECRET for hub admin tokens)"
        : "invalid token",
    );
  });
}

function unauthorized(message: string): SyncError {
  return new SyncError("unauthorized", message);
}

/** Compares digests, so neither the length nor a common prefix shows in the time taken. */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
