/**
 * The sync control API (SPEC §8.3) against a real service over two PostgreSQL databases: auth
 * (token, admin JWT, 401/403), CORS, the run lifecycle (409s, stop between batches, state after
 * a restart), progress and history, the SSE stream (replay, heartbeat, ?token=), metrics.
 */
import assert from "node:assert/strict";
import { waitFor } from "./support/wait.ts";
import {
  adminJwt,
  type ControlHarness,
  lockTable,
  readEvents,
  startControl,
  TOKEN,
  userJwt,
} from "./support/sync_control.ts";

const t = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false });

const ITEMS =
  `CREATE TABLE items (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL DEFAULT now());
  INSERT INTO items (id, v) SELECT g, 'row ' || g FROM generate_series(1, 300) g`;

async function withService(
  fn: (h: ControlHarness) => Promise<void>,
  opts: Partial<Parameters<typeof startControl>[0]> = {},
) {
  const h = await startControl({
    setup: { local: ITEMS, cloud: ITEMS.split(";")[0]! },
    sync:
      "  mode: local_to_cloud\n  batch_size: 20\n  tables: [{ name: items, timestamp_column: updated_at }]",
    seedStore: true,
    ...opts,
  });
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

const json = async (res: Response) => ({ status: res.status, body: await res.json() });

t(
  "control API: tokens — none/wrong 401, auth_token and admin JWT 200, user JWT 403; /health and /ready open",
  () =>
    withService(async (h) => {
      assert.equal((await h.api("/health", { token: null })).status, 200);
      assert.equal((await json(await h.api("/ready", { token: null }))).body.ready, true);

      const none = await h.api("/api/v1/sync/status", { token: null });
      assert.equal(none.status, 401);
      assert.match(none.headers.get("www-authenticate") ?? "", /^Bearer/);
      const body = await none.json();
      assert.equal(body.error.code, "unauthorized");
      assert.equal(typeof body.error.message, "string");

      assert.equal(
        (await (await h.api("/api/v1/sync/status", { token: "wrong" })).json()).error.code,
        "unauthorized",
      );
      assert.equal((await h.api("/api/v1/sync/status", { token: `${TOKEN}x` })).status, 401);
      assert.equal((await h.api("/api/v1/sync/status", { token: "a.b.c" })).status, 401);
      assert.equal((await h.api("/api/v1/sync/status")).status, 200);
      assert.equal((await h.api("/api/v1/sync/status", { token: await adminJwt() })).status, 200);
      const user = await h.api("/api/v1/sync/status", { token: await userJwt() });
      assert.equal(user.status, 403);
      assert.equal((await user.json()).error.code, "forbidden");

      // ?token= only where EventSource needs it.
      const viaQuery = await fetch(`${h.service.url}/api/v1/sync/status?token=${TOKEN}`);
      assert.equal(viaQuery.status, 401);
      await viaQuery.body?.cancel();
      for (
        const p of [
          "/api/v1/metrics",
          "/api/v1/config",
          "/api/v1/conflicts",
          "/api/v1/sync/history",
          "/api/v1/openapi.json",
        ]
      ) {
        const r = await h.api(p, { token: null });
        assert.equal(r.status, 401, p);
        await r.body?.cancel();
      }
      const doc = await (await h.api("/api/v1/openapi.json")).json();
      assert.equal(doc.openapi, "3.1.0");
      for (
        const p of [
          "/api/v1/sync/trigger",
          "/api/v1/sync/stop",
          "/api/v1/sync/status",
          "/api/v1/sync/history",
          "/api/v1/sync/stream",
          "/api/v1/conflicts",
          "/api/v1/conflicts/{id}/resolve",
          "/api/v1/config",
          "/api/v1/metrics",
        ]
      ) assert.ok(p in doc.paths, p);
      assert.ok("resolution" in doc.components.schemas.ResolveRequest.properties);
      assert.ok("databases" in doc.components.schemas.Config.properties);
      const missing = await h.api("/api/v1/nope");
      assert.equal(missing.status, 404);
      assert.equal((await missing.json()).error.code, "not_found");
    }),
);

t(
  "control API: CORS for cors_origins only; preflights answered without a token",
  () =>
    withService(async (h) => {
      const preflight = (origin: string) =>
        fetch(`${h.service.url}/api/v1/sync/trigger`, {
          method: "OPTIONS",
          headers: {
            origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
          },
        });
      const ok = await preflight("http://dash.example");
      assert.equal(ok.status, 204);
      assert.equal(ok.headers.get("access-control-allow-origin"), "http://dash.example");
      assert.match(ok.headers.get("access-control-allow-headers") ?? "", /authorization/);
      const other = await preflight("http://evil.example");
      assert.equal(other.headers.get("access-control-allow-origin"), null);
      await ok.body?.cancel();
      await other.body?.cancel();

      // A refusal is readable by the allowed page (so it can say "bad token").
      const refused = await h.api("/api/v1/sync/status", {
        token: "wrong",
        headers: { origin: "http://dash.example" },
      });
      assert.equal(refused.status, 401);
      assert.equal(refused.headers.get("access-control-allow-origin"), "http://dash.example");
      await refused.body?.cancel();
      const foreign = await h.api("/api/v1/sync/status", {
        headers: { origin: "http://evil.example" },
      });
      assert.equal(foreign.headers.get("access-control-allow-origin"), null);
      await foreign.body?.cancel();
    }),
);

t(
  "control API: idle → running → cancelled; 409s while running; stop leaves nothing half-applied",
  () =>
    withService(async (h) => {
      let status = await json(await h.api("/api/v1/sync/status"));
      assert.equal(status.body.state, "idle");
      assert.equal(status.body.run, null);
      assert.equal((await json(await h.api("/api/v1/sync/stop", { method: "POST" }))).status, 409);

      const release = await lockTable(h.cloud.url, "items");
      let released = false;
      try {
        const started = await h.api("/api/v1/sync/trigger", { method: "POST" });
        assert.equal(started.status, 202);
        const { run_id } = await started.json();
        assert.equal(typeof run_id, "string");

        status = await json(await h.api("/api/v1/sync/status"));
        assert.equal(status.body.state, "running");
        assert.equal(status.body.run.id, run_id);
        const again = await json(
          await h.api("/api/v1/sync/trigger", {
            method: "POST",
            body: JSON.stringify({ tables: ["items"] }),
          }),
        );
        assert.equal(again.status, 409);
        assert.equal(again.body.error.code, "conflict");
        const put = await json(
          await h.api("/api/v1/config", {
            method: "PUT",
            body: JSON.stringify(await (await h.api("/api/v1/config")).json()),
          }),
        );
        assert.equal(put.status, 409);
        assert.match(put.body.error.message, /run is in progress/);

        // The scheduler's tick skips (and says so) while a run is in progress.
        assert.equal(await h.service.scheduler.tick(), "nothing_to_do");
        h.service.scheduler.configure({
          ...h.service.runtime.config,
          scheduler: { enabled: true, cron: "0 0 1 1 *" },
        });
        assert.equal(await h.service.scheduler.tick(), "skipped_running");
        assert.ok(h.logs.some((l) => l.msg === "scheduled run skipped: a run is in progress"));

        const stopping = h.api("/api/v1/sync/stop", { method: "POST" });
        // The table is released only once the stop is in: the blocked batch must see it.
        await waitFor(() => h.logs.some((l) => l.msg === "run stop requested"), "the stop");
        await release();
        released = true;
        const stopped = await json(await stopping);
        assert.deepEqual(stopped, { status: 200, body: { run_id, status: "cancelled" } });
      } finally {
        if (!released) await release();
      }
      // Stopped before its first batch: nothing written, no page half-applied.
      assert.equal(Number((await h.cloud.sql("SELECT count(*) AS n FROM items"))[0]!.n), 0);
      status = await json(await h.api("/api/v1/sync/status"));
      assert.equal(status.body.state, "cancelled");
      const history = await json(await h.api("/api/v1/sync/history"));
      assert.equal(history.body.runs[0].status, "cancelled");

      const unknown = await json(
        await h.api("/api/v1/sync/trigger", {
          method: "POST",
          body: JSON.stringify({ tables: ["nope"] }),
        }),
      );
      assert.equal(unknown.status, 400);
      const bad = await json(
        await h.api("/api/v1/sync/trigger", {
          method: "POST",
          body: JSON.stringify({ direction: "sideways", colour: 1 }),
        }),
      );
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.details.problems.length, 2);
      const notJson = await json(
        await h.api("/api/v1/sync/trigger", { method: "POST", body: "{" }),
      );
      assert.equal(notJson.body.error.code, "invalid_json");
    }),
);

t(
  "control API: a run's progress reaches 100 % on the stream; completed; history; state survives a restart",
  () =>
    withService(async (h) => {
      const stream = await h.api("/api/v1/sync/stream");
      assert.equal(stream.status, 200);
      assert.match(stream.headers.get("content-type") ?? "", /^text\/event-stream/);
      const events = readEvents(stream, (e) => e.event === "completed");
      const { run_id } = await (await h.api("/api/v1/sync/trigger", { method: "POST" })).json();
      const frames = await events;

      assert.equal(frames[0]!.retry, 2000);
      assert.equal(frames[1]!.event, "status"); // the snapshot a new viewer starts with
      assert.ok(frames.slice(1).every((f) => typeof f.id === "string"));
      const progress = frames.filter((f) => f.event === "progress").map((f) =>
        f.data as Record<string, number | string>
      );
      assert.ok(progress.length >= 3, `several progress events: ${progress.length}`);
      assert.deepEqual(Object.keys(progress[0]!).sort(), [
        "percent",
        "rows_done",
        "rows_total",
        "run_id",
        "table",
      ]);
      assert.ok(progress.every((p) => p.run_id === run_id && p.table === "items"));
      assert.deepEqual(progress.at(-1), {
        run_id,
        table: "items",
        rows_done: 300,
        rows_total: 300,
        percent: 100,
      });
      const percents = progress.map((p) => p.percent as number);
      assert.deepEqual(percents, [...percents].sort((a, b) => a - b));
      const completed = frames.at(-1)!.data as Record<string, unknown>;
      assert.equal(completed.id, run_id);
      assert.equal(completed.status, "completed");
      assert.equal(completed.total_rows, 300);
      assert.deepEqual(
        Object.keys(completed).sort(),
        [
          "completed_at",
          "conflicts_detected",
          "direction",
          "error",
          "id",
          "started_at",
          "status",
          "tables",
          "total_rows",
        ],
      );
      assert.equal(Number((await h.cloud.sql("SELECT count(*) AS n FROM items"))[0]!.n), 300);

      const status = (await json(await h.api("/api/v1/sync/status"))).body;
      assert.equal(status.state, "completed");
      assert.deepEqual(status.run.tables, [{
        name: "items",
        rows_done: 300,
        rows_total: 300,
        percent: 100,
      }]);
      const table = status.tables.find((x: { name: string }) => x.name === "items");
      assert.equal(table.direction, "local_to_cloud");
      assert.equal(table.status, "ok");
      assert.equal(table.rows_synced, 300);
      assert.deepEqual(status.realtime, { enabled: false, running: false, failed: null });

      const history = (await json(await h.api("/api/v1/sync/history?limit=1"))).body;
      assert.equal(history.runs.length, 1);
      assert.equal(history.runs[0].id, run_id);
      assert.equal((await json(await h.api("/api/v1/sync/history?limit=0"))).status, 400);
      assert.deepEqual(
        (await json(await h.api(`/api/v1/sync/history?before=${run_id}`))).body.runs,
        [],
      );

      const metrics = await (await h.api("/api/v1/metrics")).text();
      assert.match(metrics, /synchub_sync_runs_total\{status="completed",trigger="api"\} 1/);
      assert.match(
        metrics,
        /synchub_sync_rows_written_total\{table="items",direction="local_to_cloud"\} 300/,
      );
      assert.match(metrics, /synchub_sync_run_duration_seconds_count\{status="completed"\} 1/);
      assert.match(
        metrics,
        /synchub_sync_http_requests_total\{method="POST",route="\/api\/v1\/sync\/trigger",status="202"\}/,
      );
      assert.match(metrics, /synchub_sync_realtime_up 0/);
      assert.ok(h.logs.some((l) =>
        l.msg === "request" && l.route === "/api/v1/sync/trigger" && l.status === 202
      ));

      await h.restart();
      const after = (await json(await h.api("/api/v1/sync/status"))).body;
      assert.equal(after.state, "completed");
      assert.equal(after.run.id, run_id);
    }),
);

t(
  "control API: SSE — Last-Event-ID replays what followed; ?token=; heartbeats; an unknown id gets a status",
  () =>
    withService(async (h) => {
      const first = readEvents(await h.api("/api/v1/sync/stream"), (e) => e.event === "completed");
      await h.api("/api/v1/sync/trigger", { method: "POST" });
      // Events only (heartbeat comments may fall anywhere), after the snapshot a viewer starts with.
      const live = (await first).filter((f) => f.id).slice(1);
      const from = live[1]!;
      const replayed = await readEvents(
        await fetch(`${h.service.url}/api/v1/sync/stream?token=${TOKEN}`, {
          headers: { "last-event-id": from.id! },
        }),
        (e) => e.event === "completed",
      );
      const expected = live.slice(live.indexOf(from) + 1);
      const events = replayed.filter((f) => f.id);
      assert.ok(expected.length > 3);
      assert.deepEqual(events.map((f) => f.id), expected.map((f) => f.id));
      assert.deepEqual(events.map((f) => f.event), expected.map((f) => f.event));

      const gap = await readEvents(
        await h.api("/api/v1/sync/stream", { headers: { "last-event-id": "0.1" } }),
        (_e, all) => all.length === 2,
      );
      assert.equal(gap[1]!.event, "status");
      assert.equal((gap[1]!.data as { state: string }).state, "completed");

      const beats = await readEvents(await h.api("/api/v1/sync/stream"), (e) =>
        e.comment === "heartbeat");
      assert.equal(beats.at(-1)!.comment, "heartbeat");
      const noToken = await fetch(`${h.service.url}/api/v1/sync/stream?token=wrong`);
      assert.equal(noToken.status, 401);
      await noToken.body?.cancel();
    }, { heartbeatMs: 50 }),
);
