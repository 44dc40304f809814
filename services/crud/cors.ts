/**
 * CORS for the REST API, so an application served from another origin can use it (and the SDK).
 * `CORS_ORIGINS` lists origins; `*` allows any, and `http://localhost:*` any port of that host —
 * what `deno task dev` allows by default. Preflights are answered here, before authentication.
 */
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";

/** The origins `deno task dev` allows when CORS_ORIGINS is unset: any local port. */
export const DEV_ORIGINS = ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"];

/** A predicate for `origins`: exact origins, `*`, or `scheme://host:*` for any port of a host. */
export function originMatcher(origins: readonly string[]): (origin: string) => boolean {
  if (origins.includes("*")) return () => true;
  const exact = new Set(origins.filter((o) => !o.endsWith(":*")));
  const anyPort = origins.filter((o) => o.endsWith(":*")).map((o) => o.slice(0, -1));
  return (origin) =>
    exact.has(origin) ||
    anyPort.some((prefix) =>
      origin === prefix.slice(0, -1) ||
      (origin.startsWith(prefix) && /^\d{1,5}$/.test(origin.slice(prefix.length)))
    );
}

export function corsFor(origins: readonly string[]): MiddlewareHandler {
  const allowed = originMatcher(origins);
  const any = origins.includes("*");
  return cors({
    // No credentials are used (tokens travel in a header), so `*` may be sent as is.
    origin: (origin) => any ? "*" : origin && allowed(origin) ? origin : null,
    allowHeaders: ["authorization", "content-type", "if-match", "idempotency-key"],
    allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    exposeHeaders: ["etag", "retry-after", "idempotent-replayed"],
    maxAge: 600,
  });
}
