/**
 * /metrics label sets are bounded (SPEC §12): clients sending random paths, methods, table names
 * and ids over real HTTP add no series — routes label by pattern, methods from a fixed set.
 */
import assert from "node:assert/strict";
import { api } from "./support/crud.ts";
import { seriesOf } from "./support/metrics.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"]);

Deno.test("random paths and methods do not grow /metrics", opts, async () => {
  const t = await api();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, t.app.fetch);
  const base = `http://127.0.0.1:${server.addr.port}`;
  const token = await t.token(["a"], "prober");
  const patterns = new Set(t.app.routes.map((r) => r.path));
  try {
    const random = () => crypto.randomUUID().slice(0, 8);
    /** The same shapes each round, with fresh random parts. */
    const round = async () => {
      const word = random();
      const shapes: Array<[string, string]> = [
        ["GET", `/${word}`],
        ["GET", `/v1/${word}/${random()}`],
        ["GET", `/v1/tables/${word}/rows`], // unknown table
        ["GET", `/v1/tables/todos/rows/${word}`], // not a uuid
        ["GET", `/v1/tables/todos/rows?${word}=1`], // unknown column
        ["POST", `/v1/tables/${word}/batch`],
        ["DELETE", `/v1/admin/users/${word}/buckets/${word}`],
        ["GET", `/v1/checkpoints/${word}`],
        [`X${word.replace(/[^a-z]/g, "").toUpperCase()}Q`, `/v1/tables/todos/rows`],
        ["PROPFIND", `/${word}`],
        ["PUT", `/v1/tables/${word}/rows`], // a known pattern, a method it does not take
        ["TRACEX", "/openapi.json"],
      ];
      for (const [method, path] of shapes) {
        const res = await fetch(`${base}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          ...(method === "POST" ? { body: "[]" } : {}),
        });
        await res.body?.cancel();
      }
      return await (await fetch(`${base}/metrics`)).text();
    };
    await (await fetch(`${base}/metrics`)).body?.cancel(); // /metrics counts itself too
    const first = await round();
    const second = await round();
    const third = await round();
    assert.deepEqual(seriesOf(third), seriesOf(second), "the same shapes, no new series");
    assert.deepEqual(seriesOf(second), seriesOf(first));
    for (
      const line of third.split("\n").filter((l) => l.startsWith("synchub_crud_requests_total"))
    ) {
      const method = /method="([^"]*)"/.exec(line)?.[1];
      const route = /route="([^"]*)"/.exec(line)?.[1];
      assert.ok(METHODS.has(method!), `method label ${method}`);
      assert.ok(route === "unmatched" || patterns.has(route!), `route label ${route}`);
    }
    assert.match(third, /method="OTHER",route="\/v1\/tables\/:table\/rows",status="405"/);
    assert.match(third, /method="PUT",route="\/v1\/tables\/:table\/rows",status="405"/);
    assert.match(third, /method="GET",route="unmatched",status="404"/);
  } finally {
    await server.shutdown();
    await t.close();
  }
});
