/**
 * What a Hono app's routes say about a request, for metrics and for 405: the endpoint patterns it
 * serves (registered by code, so a fixed set whatever clients send), the methods each takes, and
 * request labels drawn only from those sets — a client inventing paths or methods cannot grow
 * /metrics (SPEC §12: bounded label sets).
 */
import type { Context, Env, Hono } from "hono";
import { matchedRoutes } from "hono/route";

/** Methods that label as themselves; anything else is `OTHER`. */
const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** The label of a request method: one of a fixed set. */
export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : "OTHER";
}

/** The label of a request no endpoint matched. */
export const UNMATCHED = "unmatched";

/**
 * Endpoint patterns and their methods: routes registered for a method (`app.get`, `app.post`…);
 * middleware (`app.use`, method ALL) is not an endpoint. HEAD goes with GET, as Hono serves it.
 */
export function endpointMethods(app: { routes: Hono["routes"] }): Map<string, string[]> {
  const methods = new Map<string, Set<string>>();
  for (const r of app.routes) {
    if (r.method === "ALL") continue;
    let set = methods.get(r.path);
    if (!set) methods.set(r.path, set = new Set());
    set.add(r.method);
    if (r.method === "GET") set.add("HEAD");
  }
  return new Map([...methods].map(([path, set]) => [path, [...set].sort()]));
}

/**
 * The route label of a request, by the endpoint patterns of `app` (read at the first request,
 * once every route is registered): the pattern it matched, or `unmatched`.
 */
export function routeLabeler(app: { routes: Hono["routes"] }): (c: Context) => string {
  let endpoints: Set<string> | undefined;
  return (c) => {
    endpoints ??= new Set(endpointMethods(app).keys());
    for (const route of matchedRoutes(c)) if (endpoints.has(route.path)) return route.path;
    return UNMATCHED;
  };
}

/**
 * Every endpoint pattern answers methods it does not take with what `refuse` throws or returns
 * (405 with `Allow`), instead of falling through to 404. Call after the last route is added.
 */
export function refuseOtherMethods<E extends Env>(
  app: Hono<E>,
  refuse: (allow: string[], c: Context<E>) => Response | Promise<Response>,
): void {
  for (const [path, allow] of endpointMethods(app)) {
    app.all(path, (c) => refuse(allow, c));
  }
}
