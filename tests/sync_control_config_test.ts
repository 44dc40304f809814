/**
 * The sync control API's conflicts, configuration and scheduler (SPEC §8.3) against a real
 * service over two PostgreSQL databases.
 */
import assert from "node:assert/strict";
import { waitFor } from "./support/wait.ts";
import { RealtimeStatusBox } from "../services/sync/control/realtime_status.ts";
import { startControl, TOKEN } from "./support/sync_control.ts";

const t = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false });

const json = async (res: Response) => ({ status: res.status, body: await res.json() });
const post = (body: unknown) => ({ method: "POST", body: JSON.stringify(body) });

const PAIR = {
  local: `CREATE TABLE notes (id int PRIMARY KEY, body text);
    INSERT INTO notes VALUES (1, 'local one'), (2, 'local two'), (3, 'same')`,
  cloud: `CREATE TABLE notes (id int PRIMARY KEY, body text);
    INSERT INTO notes VALUES (1, 'cloud one'), (2, 'cloud two'), (3, 'same')`,
};

t(
  "conflicts: listed with the SPEC shape, paged; resolved local/cloud/custom to both sides; 404, 409, 400",
  async () => {
    const h = await startControl({
      setup: PAIR,
      sync: "  mode: bidirectional\n  tables: [{ name: notes, conflict_resolution: manual }]",
    });
    try {
      // The first start ran by itself (empty state store) and parked both diverged rows.
      const all = await json(await h.api("/api/v1/conflicts"));
      assert.equal(all.status, 200);
      assert.equal(all.body.conflicts.length, 2);
      assert.equal(all.body.next, null);
      const [one, two] = all.body.conflicts;
      for (
        const key of [
          "id",
          "table",
          "primary_key",
          "local_data",
          "cloud_data",
          "conflict_type",
          "detected_at",
          "resolved",
          "resolution_strategy",
          "resolved_at",
          "resolved_data",
        ]
      ) assert.ok(key in one, key);
      assert.equal(one.table, "notes");
      assert.deepEqual(one.primary_key, { id: 1 });
      assert.deepEqual(one.local_data, { id: 1, body: "local one" });
      assert.deepEqual(one.cloud_data, { id: 1, body: "cloud one" });
      assert.equal(one.conflict_type, "diverged");
      assert.equal(one.resolved, false);

      const page = await json(await h.api("/api/v1/conflicts?limit=1"));
      assert.equal(page.body.conflicts[0].id, one.id);
      assert.equal(page.body.next, one.id);
      const rest = await json(await h.api(`/api/v1/conflicts?limit=1&after=${page.body.next}`));
      assert.equal(rest.body.conflicts[0].id, two.id);
      assert.equal(
        (await json(await h.api("/api/v1/conflicts?table=other"))).body.conflicts.length,
        0,
      );
      assert.equal((await json(await h.api("/api/v1/conflicts?status=maybe"))).status, 400);
      assert.equal((await json(await h.api("/api/v1/conflicts?limit=5000"))).status, 400);

      const badBody = await json(
        await h.api(`/api/v1/conflicts/${one.id}/resolve`, post({ resolution: "custom" })),
      );
      assert.equal(badBody.status, 400);
      assert.match(badBody.body.error.message, /data/);
      assert.equal(
        (await json(
          await h.api(`/api/v1/conflicts/${one.id}/resolve`, post({ resolution: "mine" })),
        )).status,
        400,
      );
      const missing = await json(
        await h.api(
          "/api/v1/conflicts/0190aaaa-0000-7000-8000-000000000000/resolve",
          post({ resolution: "local" }),
        ),
      );
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.code, "not_found");

      const stream = h.api("/api/v1/sync/stream");
      const resolved = await json(
        await h.api(`/api/v1/conflicts/${one.id}/resolve`, post({ resolution: "cloud" })),
      );
      assert.equal(resolved.status, 200);
      assert.equal(resolved.body.id, one.id);
      assert.equal(resolved.body.resolved, true);
      assert.equal(resolved.body.resolution_strategy, "manual:cloud");
      assert.deepEqual(resolved.body.resolved_data, { id: 1, body: "cloud one" });
      for (const side of [h.local, h.cloud]) {
        assert.deepEqual(await side.sql("SELECT body FROM notes WHERE id = 1"), [{
          body: "cloud one",
        }]);
      }
      const again = await json(
        await h.api(`/api/v1/conflicts/${one.id}/resolve`, post({ resolution: "local" })),
      );
      assert.equal(again.status, 409);
      assert.equal(again.body.error.code, "conflict");
      (await stream).body?.cancel();

      const wrongKey = await json(
        await h.api(
          `/api/v1/conflicts/${two.id}/resolve`,
          post({ resolution: "custom", data: { id: 9, body: "x" } }),
        ),
      );
      assert.equal(wrongKey.status, 400);
      const custom = await json(
        await h.api(
          `/api/v1/conflicts/${two.id}/resolve`,
          post({ resolution: "custom", data: { id: 2, body: "merged" } }),
        ),
      );
      assert.equal(custom.status, 200);
      for (const side of [h.local, h.cloud]) {
        assert.deepEqual(await side.sql("SELECT body FROM notes WHERE id = 2"), [{
          body: "merged",
        }]);
      }
      assert.equal((await json(await h.api("/api/v1/conflicts"))).body.conflicts.length, 0);
      assert.equal(
        (await json(await h.api("/api/v1/conflicts?status=resolved"))).body.conflicts.length,
        2,
      );
      const metrics = await (await h.api("/api/v1/metrics")).text();
      assert.match(
        metrics,
        /synchub_sync_conflicts_total\{table="notes",type="diverged",outcome="parked"\} 2/,
      );
      assert.match(metrics, /synchub_sync_conflicts_resolved_total\{resolution="cloud"\} 1/);
    } finally {
      await h.close();
    }
  },
);

t(
  "config: GET redacts; PUT applies without restart and writes the file back keeping ${VAR} and comments",
  async () => {
    const h = await startControl({
      setup: {
        local: "CREATE TABLE a (id int PRIMARY KEY, v text); INSERT INTO a VALUES (1, 'x')",
        cloud: "CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE b (id int PRIMARY KEY)",
      },
      sync:
        "  mode: local_to_cloud\n  batch_size: 100   # keep this comment\n  tables: [{ name: a }]",
      seedStore: true,
    });
    try {
      const shown = (await json(await h.api("/api/v1/config"))).body;
      assert.equal(shown.server.auth_token, "***");
      assert.ok(!JSON.stringify(shown).includes(TOKEN));
      assert.equal(shown.sync.batch_size, 100);
      assert.equal(shown.sync.workers, 4, "defaults are shown");

      const before = await Deno.readTextFile(h.path);
      const edited = structuredClone(shown);
      edited.sync.batch_size = 250;
      edited.sync.tables.push({ name: "b" });
      edited.server.cors_origins = ["http://other.example"];
      const put = await h.api("/api/v1/config", { method: "PUT", body: JSON.stringify(edited) });
      assert.equal(put.status, 200);
      const answer = await put.json();
      assert.equal(answer.sync.batch_size, 250);
      assert.equal(answer.server.auth_token, "***");
      assert.match(put.headers.get("x-sync-applied") ?? "", /sync/);

      const after = await Deno.readTextFile(h.path);
      assert.notEqual(after, before);
      assert.ok(after.includes('"${SYNC_TEST_TOKEN}"'), after);
      assert.ok(after.includes("# from the environment"));
      assert.ok(after.includes("# keep this comment"));
      assert.ok(after.includes("# sync under test"));
      assert.ok(after.includes("batch_size: 250"));
      assert.ok(!after.includes("workers"), "defaults stay out of the file");
      assert.deepEqual([...Deno.readDirSync(h.dir)].filter((e) => e.name.endsWith(".tmp")), []);

      // In effect at once: the new table runs, the new origin is allowed, the old token still works.
      const status = (await json(await h.api("/api/v1/sync/status"))).body;
      assert.deepEqual(status.tables.map((x: { name: string }) => x.name), ["a", "b"]);
      const cors = await h.api("/api/v1/sync/status", {
        headers: { origin: "http://other.example" },
      });
      assert.equal(cors.headers.get("access-control-allow-origin"), "http://other.example");
      await cors.body?.cancel();
      const run = await json(await h.api("/api/v1/sync/trigger", post({ tables: ["b"] })));
      assert.equal(run.status, 202);
      await h.service.runs.settled();

      // A new token applies to the next request.
      const rotated = structuredClone(answer);
      rotated.server.auth_token = "a-brand-new-token";
      assert.equal(
        (await h.api("/api/v1/config", { method: "PUT", body: JSON.stringify(rotated) })).status,
        200,
      );
      assert.equal((await h.api("/api/v1/sync/status")).status, 401);
      assert.equal(
        (await h.api("/api/v1/sync/status", { token: "a-brand-new-token" })).status,
        200,
      );
      assert.ok((await Deno.readTextFile(h.path)).includes("a-brand-new-token"));
    } finally {
      await h.close();
    }
  },
);

t(
  "config: a bad PUT is a 400 listing every problem and leaves the file and the service untouched",
  async () => {
    const h = await startControl({
      setup: {
        local: "CREATE TABLE a (id int PRIMARY KEY)",
        cloud: "CREATE TABLE a (id int PRIMARY KEY)",
      },
      sync: "  tables: [{ name: a }]",
      seedStore: true,
    });
    try {
      const before = await Deno.readTextFile(h.path);
      const shown = (await json(await h.api("/api/v1/config"))).body;
      const bad = structuredClone(shown);
      bad.sync.mode = "sideways";
      bad.sync.batch_size = 0;
      bad.sync.tables.push({ name: "a" });
      bad.scheduler.cron = "every tuesday";
      bad.databases.local.url = "ftp://nowhere";
      bad.colour = "blue";
      const res = await json(
        await h.api("/api/v1/config", { method: "PUT", body: JSON.stringify(bad) }),
      );
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, "bad_request");
      const problems: string[] = res.body.error.details.problems;
      for (
        const p of [
          /^databases\.local\.url:/,
          /^sync\.mode:/,
          /^sync\.batch_size:/,
          /^sync\.tables\.1\.name:.*twice/,
          /^scheduler\.cron: not a cron pattern/,
          /colour/,
        ]
      ) {
        assert.ok(problems.some((x) => p.test(x)), `${p} in ${problems.join("\n")}`);
      }
      assert.equal(await Deno.readTextFile(h.path), before);

      const noSecret = structuredClone(shown);
      noSecret.databases.cloud.url = "postgres://someone:***@127.0.0.1:1/x";
      const secret = await json(
        await h.api("/api/v1/config", { method: "PUT", body: JSON.stringify(noSecret) }),
      );
      assert.equal(secret.status, 400);
      assert.match(
        secret.body.error.details.problems[0],
        /^databases\.cloud\.url: "\*\*\*" keeps the stored password/,
      );

      const unreachable = structuredClone(shown);
      unreachable.databases.cloud.url = "postgres://u:p@127.0.0.1:1/nowhere";
      const down = await json(
        await h.api("/api/v1/config", { method: "PUT", body: JSON.stringify(unreachable) }),
      );
      assert.equal(down.status, 400);
      assert.match(down.body.error.details.problems[0], /^databases\.cloud\.url: cannot use it/);
      assert.equal(await Deno.readTextFile(h.path), before);
      assert.equal((await json(await h.api("/ready", { token: null }))).body.ready, true);

      assert.equal(
        (await json(await h.api("/api/v1/config", { method: "PUT", body: "[1," }))).body.error.code,
        "invalid_json",
      );
      assert.equal(
        (await json(await h.api("/api/v1/config", { method: "PUT", body: "42" }))).status,
        400,
      );
      assert.equal(await Deno.readTextFile(h.path), before);
    } finally {
      await h.close();
    }
  },
);

t(
  "scheduler: cron ticks start runs (logged); realtime failure starts a fallback run; skipped while running",
  async () => {
    const realtime = new RealtimeStatusBox();
    const h = await startControl({
      setup: {
        local: "CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1)",
        cloud: "CREATE TABLE a (id int PRIMARY KEY)",
      },
      sync: "  tables: [{ name: a }]\n  realtime: true",
      extra: 'scheduler: { enabled: true, cron: "* * * * * *" }',
      seedStore: true,
      realtime,
    });
    try {
      // Every second: wait for the first scheduled run to end.
      await waitFor(
        () => h.logs.some((l) => l.msg === "run ended" && l.trigger === "scheduler"),
        "the first scheduled run to end",
      );
      assert.ok(h.logs.some((l) => l.msg === "scheduled run started" && l.reason === "schedule"));
      assert.deepEqual(await h.cloud.sql("SELECT id FROM a"), [{ id: 1 }]);

      // Disabled: ticks do nothing until realtime fails; then a fallback run starts at once.
      const config = h.service.runtime.config;
      h.service.scheduler.configure({
        ...config,
        scheduler: { enabled: false, cron: "0 0 1 1 *" },
      });
      await h.service.runs.settled();
      assert.equal(await h.service.scheduler.tick(), "nothing_to_do");
      realtime.set({ running: false, failed: "binlog position lost", tables: [] });
      await waitFor(
        () => h.logs.some((l) => l.msg === "fallback run started"),
        "a fallback run",
      );
      const fallback = h.logs.find((l) => l.msg === "fallback run started")!;
      assert.equal(fallback.reason, "realtime failed: binlog position lost");
      if (h.service.runs.busy) assert.equal(await h.service.scheduler.tick(), "skipped_running");
      await h.service.runs.settled();
      assert.equal(await h.service.scheduler.tick(), "fallback");
      await h.service.runs.settled();
      const metrics = await (await h.api("/api/v1/metrics")).text();
      assert.match(metrics, /synchub_sync_scheduled_total\{outcome="fallback"\} [2-9]/);
      assert.match(metrics, /synchub_sync_runs_total\{status="completed",trigger="fallback"\}/);
    } finally {
      await h.close();
    }
  },
);
