/**
 * What every request passes before a route: request metrics, CORS, the per-address limit, and for
 * /v1 the token (or, on the public auth routes, the auth-attempt limit).
 */
import type { Hono, MiddlewareHandler } from "hono";
import { principalOf } from "../../lib/access.ts";
import { SyncError } from "../../lib/errors.ts";
import { tokenFromRequest, type TokenVerifier } from "../../lib/jwt.ts";
import { type Registry, SECONDS_BUCKETS } from "../../lib/metrics.ts";
import { KeyedLimiter } from "../../lib/rate_limit.ts";
import type { CrudEnv } from "./env.ts";
import { clientAddress } from "../../lib/http/address.ts";
import { corsFor } from "./cors.ts";
import { methodLabel, routeLabeler } from "../../lib/http/routes.ts";

export interface GuardLimits {
  ratePerToken: number;
  ratePerAddress: number;
  authAttemptsPerMinute: number;
  corsOrigins: readonly string[];
  trustProxy: boolean;
}

/** Routes open without a token. */
const PUBLIC = new Set([
  "/v1/auth/register",
  "/v1/auth/login",
  "/v1/auth/refresh",
  "/v1/auth/logout",
]);

export interface Guards {
  /** Throws `rate_limited` when this account has had too many login attempts. */
  limitAccount(email: string): void;
}

export function installGuards(
  app: Hono<CrudEnv>,
  deps: { limits: GuardLimits; verifyToken: TokenVerifier; registry: Registry },
): Guards {
  const { limits, registry } = deps;
  const requests = registry.counter(
    "synchub_crud_requests_total",
    "HTTP requests by method, route pattern and status.",
  );
  const duration = registry.histogram(
    "synchub_crud_request_duration_seconds",
    "HTTP request duration in seconds, by route pattern.",
    SECONDS_BUCKETS,
  );
  const limited = registry.counter(
    "synchub_crud_rate_limited_total",
    "Requests refused with 429, by limit.",
  );
  const byAddress = new KeyedLimiter(limits.ratePerAddress, limits.ratePerAddress * 2);
  const byToken = new KeyedLimiter(limits.ratePerToken, limits.ratePerToken * 2);
  const authAttempts = new KeyedLimiter(
    limits.authAttemptsPerMinute / 60,
    limits.authAttemptsPerMinute,
  );
  // Guessing one account's password from many addresses is limited per account too.
  const accountAttempts = new KeyedLimiter(
    limits.authAttemptsPerMinute / 60,
    limits.authAttemptsPerMinute,
  );
  const refuse = (limit: string, retryAfter: number) => {
    limited.inc({ limit });
    throw new SyncError("rate_limited", `too many requests; retry in ${retryAfter} s`, {
      retryAfter,
    });
  };

  // Labels from fixed sets only: a client's paths and methods never become series.
  const routeOf = routeLabeler(app);
  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    const route = routeOf(c);
    requests.inc({ method: methodLabel(c.req.method), route, status: String(c.res.status) });
    duration.observe((performance.now() - started) / 1000, { route });
  });
  // Always mounted: preflights are answered before authentication (SPEC §9, cors.ts).
  app.use(corsFor(limits.corsOrigins));

  const limitAddress: MiddlewareHandler<CrudEnv> = async (c, next) => {
    const address = clientAddress(c, limits.trustProxy);
    c.set("address", address);
    const wait = byAddress.take(address);
    if (wait !== undefined) refuse("address", wait);
    await next();
  };
  app.use("/openapi.json", limitAddress);
  app.use("/docs", limitAddress);
  app.use("/v1/*", limitAddress);
  app.use("/v1/*", async (c, next) => {
    if (PUBLIC.has(c.req.path)) {
      const attempt = authAttempts.take(c.get("address"));
      if (attempt !== undefined) refuse("auth", attempt);
      return await next();
    }
    // The header only: a token in a URL ends up in logs (the gateway's WebSocket takes ?token=).
    const token = tokenFromRequest(c.req.raw, { query: false });
    if (!token) {
      throw new SyncError("unauthorized", "a token is required: Authorization: Bearer <jwt>");
    }
    const claims = await deps.verifyToken(token);
    const perToken = byToken.take(claims.sub);
    if (perToken !== undefined) refuse("token", perToken);
    c.set("claims", claims);
    c.set("principal", principalOf(claims));
    await next();
  });

  return {
    limitAccount: (email) => {
      const wait = accountAttempts.take(email);
      if (wait !== undefined) refuse("account", wait);
    },
  };
}
