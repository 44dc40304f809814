import assert from "node:assert/strict";
import { Hono } from "hono";
import { endpointMethods, methodLabel, refuseOtherMethods, routeLabeler } from "./routes.ts";

function app() {
  const a = new Hono();
  const labels: string[] = [];
  const label = routeLabeler(a);
  a.use(async (c, next) => {
    await next();
    labels.push(`${methodLabel(c.req.method)} ${label(c)} ${c.res.status}`);
  });
  a.use("/v1/*", async (_, next) => await next());
  const sub = new Hono();
  sub.get("/items/:id", (c) => c.text("item"));
  sub.delete("/items/:id", (c) => c.text("gone"));
  a.route("/v1", sub);
  a.post("/v1/items", (c) => c.text("made", 201));
  refuseOtherMethods(
    a,
    (allow) => new Response(null, { status: 405, headers: { allow: allow.join(", ") } }),
  );
  return { a, labels };
}

Deno.test("methods label as themselves or OTHER", () => {
  assert.equal(methodLabel("GET"), "GET");
  assert.equal(methodLabel("PROPFIND"), "OTHER");
  assert.equal(methodLabel("get"), "OTHER");
});

Deno.test("endpoints and their methods; middleware is no endpoint", () => {
  const { a } = app();
  assert.deepEqual(Object.fromEntries(endpointMethods(a)), {
    "/v1/items/:id": ["DELETE", "GET", "HEAD"],
    "/v1/items": ["POST"],
  });
});

Deno.test("routes label by pattern; unknown paths and methods by fixed words", async () => {
  const { a, labels } = app();
  const call = (method: string, path: string) =>
    a.fetch(new Request(`http://x${path}`, { method }));
  assert.equal((await call("GET", "/v1/items/42")).status, 200);
  const refused = await call("PUT", "/v1/items/42");
  assert.equal(refused.status, 405);
  assert.equal(refused.headers.get("allow"), "DELETE, GET, HEAD");
  assert.equal((await call("PROPFIND", "/v1/items")).status, 405);
  assert.equal((await call("GET", "/v1/nowhere/at/all")).status, 404);
  assert.equal((await call("GET", `/${crypto.randomUUID()}`)).status, 404);
  assert.deepEqual(labels, [
    "GET /v1/items/:id 200",
    "PUT /v1/items/:id 405",
    "OTHER /v1/items 405",
    "GET unmatched 404",
    "GET unmatched 404",
  ]);
});
