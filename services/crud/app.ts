/**
 * The CRUD service's HTTP surface (SPEC §5): JSON in and out, errors as
 * `{"error":{"code","message","details"}}` with stable codes, no stack traces. Limits every
 * request by client address, authenticated ones by token too, and auth attempts strictly.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { type BucketGrant, grantOf } from "../../lib/buckets.ts";
import { SyncError } from "../../lib/errors.ts";
import { mountOps, type ReadinessChecks } from "../../lib/http/ops.ts";
import { type Claims, tokenFromRequest, type TokenVerifier } from "../../lib/jwt.ts";
import type { Logger } from "../../lib/log.ts";
import type { Registry } from "../../lib/metrics.ts";
import type { CatalogCache } from "../../lib/postgres/catalog.ts";
import { KeyedLimiter } from "../../lib/rate_limit.ts";
import { mountAuth } from "./auth_routes.ts";
import { corsFor } from "./cors.ts";
import { idempotency } from "./idempotency.ts";
import type { IdempotencyStore } from "./idempotency_store.ts";
import { mountOpenApi } from "./openapi.ts";
import { clientAddress, readJson } from "./request.ts";
import type { RowStore } from "./row_store.ts";
import { mountRows } from "./rows_routes.ts";
import { mountStatic } from "./static_routes.ts";
import type { UserStore } from "./users.ts";

export interface CrudDeps {
  store: RowStore;
  catalog: CatalogCache;
  users: UserStore;
  verifyToken: TokenVerifier;
  jwtSecret: string;
  limits: {
    maxBodyBytes: number;
    accessTokenTtlSeconds: number;
    ratePerToken: number;
    ratePerAddress: number;
    authAttemptsPerMinute: number;
    corsOrigins: readonly string[];
    trustProxy: boolean;
  };
  log: Logger;
  registry: Registry;
  checks: ReadinessChecks;
  /** SPEC §9: answers kept for `Idempotency-Key` writes; unset, the header is ignored. */
  idempotency?: IdempotencyStore;
  /** `deno task dev` only: mints the demo page's dev token. */
  devToken?: () => Promise<string>;
}

export type CrudEnv = { Variables: { claims: Claims; grant: BucketGrant; address: string } };

/** Routes open without a token. */
const PUBLIC = new Set([
  "/v1/auth/register",
  "/v1/auth/login",
  "/v1/auth/refresh",
  "/v1/auth/logout",
]);

export function createCrudApp(deps: CrudDeps): Hono<CrudEnv> {
  const { log, registry, limits } = deps;
  const app = new Hono<CrudEnv>();
  const requests = registry.counter(
    "synchub_crud_requests_total",
    "HTTP requests by route and status.",
  );
  const duration = registry.histogram(
    "synchub_crud_request_ms",
    "HTTP request duration in milliseconds.",
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

  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    const route = c.req.routePath;
    requests.inc({ method: c.req.method, route, status: String(c.res.status) });
    duration.observe(performance.now() - started, { route });
  });
  // Always mounted: preflights are answered before authentication (SPEC §9, services/crud/cors.ts).
  app.use(corsFor(limits.corsOrigins));
  mountOps(app as unknown as Hono, "crud", registry, deps.checks);

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
    c.set("grant", grantOf(claims.buckets));
    await next();
  });

  if (deps.idempotency) { // SPEC §9 (services/crud/idempotency.ts)
    app.use(
      "/v1/tables/*",
      idempotency(deps.idempotency, { maxBodyBytes: limits.maxBodyBytes }),
    );
  }

  const jsonBody = (req: Request) => readJson(req, limits.maxBodyBytes);
  app.get(
    "/",
    (c) =>
      c.json({
        service: "synchub-crud",
        tables: "/v1/tables",
        openapi: "/openapi.json",
        docs: "/docs",
      }),
  );
  mountAuth(app, {
    users: deps.users,
    jwtSecret: deps.jwtSecret,
    accessTokenTtlSeconds: limits.accessTokenTtlSeconds,
    jsonBody,
    limitAccount: (email) => {
      const wait = accountAttempts.take(email);
      if (wait !== undefined) refuse("account", wait);
    },
  });
  mountRows(app, { store: deps.store, catalog: deps.catalog, jsonBody });
  mountOpenApi(app, deps.catalog);
  mountStatic(app, { log, devToken: deps.devToken }); // SPEC §9: /sdk/synchub.js and /demo/

  app.notFound((c) => c.json(new SyncError("not_found", "no such route").toBody(), 404));
  app.onError((err, c) => {
    const e = err instanceof SyncError ? err : new SyncError("internal");
    if (e.code === "internal" || e.code === "unavailable") {
      log.error("request failed", { method: c.req.method, path: c.req.path, err });
    }
    const retry = e.code === "rate_limited"
      ? (e.details as { retryAfter?: number })?.retryAfter
      : undefined;
    return c.json(e.toBody(), e.status as 400, retry ? { "retry-after": String(retry) } : {});
  });
  return app;
}
