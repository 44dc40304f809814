/**
 * Checkpoints over the REST API (SPEC §10) on a real database: made in the background with their
 * progress visible, one instant across tables, downloaded gzip or plain, restored (dry run first)
 * as ordinary writes, refused to tokens without the bucket, kept per the retention, scheduled.
 */
import assert from "node:assert/strict";
import pg from "pg";
import { signToken } from "../lib/jwt.ts";
import { silentLogger } from "../lib/log.ts";
import { scheduledCheckpoints, startSchedule } from "../services/crud/checkpoints/schedule.ts";
import { Checkpoints } from "../services/crud/checkpoints/checkpoints.ts";
import { CheckpointStore } from "../services/crud/checkpoints/store.ts";
import { BusPositions } from "../services/crud/buckets/position.ts";
import { HubEvents } from "../lib/events.ts";
import { bucketColumns } from "../lib/access.ts";
import { accessPolicy } from "../lib/access_policy.ts";
import { CatalogCache } from "../lib/catalog.ts";
import { loadCatalog } from "../lib/postgres/catalog.ts";
import { type Api, api, type Json, SECRET } from "./support/crud.ts";
import { waitFor } from "./support/wait.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const admin = () => signToken(SECRET, { sub: "root", buckets: [], role: "admin" });

async function seed(t: Api): Promise<void> {
  await t.db.sql(`CREATE TABLE notes (id int PRIMARY KEY, bucket text, body text NOT NULL)`);
  await t.db.sql("ALTER PUBLICATION synchub ADD TABLE notes");
  await t.db.sql(
    `INSERT INTO todos (bucket, title) SELECT 'a', 'todo ' || g FROM generate_series(1, 30) g`,
  );
  await t.db.sql(`INSERT INTO todos (bucket, title) VALUES ('b', 'not a''s')`);
  await t.db.sql(`INSERT INTO notes SELECT g, 'a', 'note ' || g FROM generate_series(1, 5) g`);
}

async function ready(t: Api, id: string, token?: string): Promise<Json> {
  return await waitFor(async () => {
    const r = await t.call("GET", `/v1/checkpoints/${id}`, token ? { token } : {});
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.notEqual(r.body.status, "failed", r.body.error);
    return r.body.status === "ready" ? r.body : undefined;
  }, `checkpoint ${id} to be ready`);
}

async function download(t: Api, id: string, encoding: string, token?: string) {
  const res = await t.app.fetch(
    new Request(`http://crud/v1/checkpoints/${id}/download`, {
      headers: {
        authorization: `Bearer ${token ?? await t.token(["a"], "a")}`,
        "accept-encoding": encoding,
      },
    }),
  );
  const gzip = res.headers.get("content-encoding") === "gzip";
  const body = gzip ? res.body!.pipeThrough(new DecompressionStream("gzip")) : res.body!;
  const text = await new Response(body).text();
  return { res, gzip, lines: text.split("\n").filter(Boolean).map((l) => JSON.parse(l)) };
}

Deno.test(
  "a checkpoint: pending with its progress, then ready; one instant; gzip and plain",
  opts,
  async () => {
    const t = await api();
    const blocker = new pg.Client({ connectionString: t.db.url });
    try {
      await seed(t);
      // Hold the table so the checkpoint waits on it, observably pending with its progress. (The
      // catalog is loaded first: reading pg_publication_tables would wait on the lock too.)
      assert.equal((await t.call("GET", "/v1/tables")).body.tables.length, 2);
      await blocker.connect();
      await blocker.query("BEGIN");
      await blocker.query("LOCK TABLE notes IN ACCESS EXCLUSIVE MODE");
      const created = await t.call("POST", "/v1/checkpoints", { body: { bucket: "a" } });
      assert.equal(created.status, 202, JSON.stringify(created.body));
      assert.equal(created.body.status, "pending");
      assert.deepEqual(created.body.tables, ["public.notes", "public.todos"]);
      const waiting = await waitFor(async () => {
        const r = (await t.call("GET", `/v1/checkpoints/${created.body.id}`)).body;
        return r.progress?.table === "public.notes" ? r : undefined;
      }, "progress on the first table");
      assert.equal(waiting.status, "pending");
      assert.deepEqual(waiting.progress, {
        tables_done: 0,
        tables_total: 2,
        table: "public.notes",
      });
      assert.match(waiting.cursor, /^c2\./, "the cursor is known once the snapshot is taken");
      // Written after the snapshot was taken: not in the checkpoint, whatever the order of tables.
      await t.db.sql(`INSERT INTO todos (bucket, title) VALUES ('a', 'too late')`);
      await blocker.query("COMMIT");

      const done = await ready(t, created.body.id);
      assert.equal(done.rows, 35);
      assert.ok(done.bytes > 0 && done.ndjson_bytes > done.bytes, JSON.stringify(done));
      assert.equal(done.progress, null);
      assert.ok(done.created_at && done.completed_at);

      const plain = await download(t, done.id, "identity");
      assert.equal(plain.res.status, 200);
      assert.equal(plain.gzip, false);
      assert.equal(plain.res.headers.get("content-type"), "application/x-ndjson");
      assert.deepEqual(plain.lines[0], {
        checkpoint: done.id,
        cursor: done.cursor,
        tables: ["public.notes", "public.todos"],
      });
      const rows = plain.lines.slice(1);
      assert.equal(rows.length, 35);
      assert.ok(rows.every((l: Json) => l.row.bucket === "a"), "only the bucket's rows");
      assert.ok(!rows.some((l: Json) => l.row.title === "too late"), "nothing after the instant");
      assert.deepEqual(
        rows.filter((l: Json) => l.table === "public.notes").map((l: Json) => l.row),
        [1, 2, 3, 4, 5].map((id) => ({ id, bucket: "a", body: `note ${id}` })),
      );
      const gz = await download(t, done.id, "gzip, deflate");
      assert.equal(gz.gzip, true);
      assert.equal(Number(gz.res.headers.get("content-length")), done.bytes);
      assert.deepEqual(gz.lines, plain.lines);
    } finally {
      await blocker.end().catch(() => {});
      await t.close();
    }
  },
);

Deno.test("restore: dry run counts, then ordinary writes bring the bucket back", opts, async () => {
  const t = await api();
  try {
    await seed(t);
    const id =
      (await t.call("POST", "/v1/checkpoints", { body: { bucket: "a", tables: ["todos"] } }))
        .body.id;
    const done = await ready(t, id);
    assert.deepEqual(done.tables, ["public.todos"]);
    const before = await t.db.sql<Json>(
      "SELECT id, title, done, version FROM todos WHERE bucket = 'a' ORDER BY id",
    );
    const [changed, removed, moved] = before;
    await t.db.sql("UPDATE todos SET title = 'edited', version = version + 1 WHERE id = $1", [
      changed.id,
    ]);
    await t.db.sql("DELETE FROM todos WHERE id = $1", [removed.id]);
    await t.db.sql("UPDATE todos SET bucket = 'b' WHERE id = $1", [moved.id]); // left the bucket
    await t.db.sql(`INSERT INTO todos (bucket, title) VALUES ('a', 'new')`);
    await t.db.sql("UPDATE todos SET updated_at = now() WHERE bucket = 'a'"); // time only: no change

    const user = await t.call("POST", `/v1/checkpoints/${id}/restore`);
    assert.equal(user.status, 403, "restore is for admins");
    const star = await t.call("POST", `/v1/checkpoints/${id}/restore`, {
      token: await t.token(["*"]),
    });
    assert.equal(star.status, 403, 'a "*" token is not an admin');

    const token = await admin();
    const dry = await t.call("POST", `/v1/checkpoints/${id}/restore?dry_run=true`, { token });
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    assert.deepEqual(dry.body, { inserted: 2, updated: 1, deleted: 1, dry_run: true });
    assert.equal((await t.db.sql("SELECT 1 FROM todos WHERE title = 'new'")).length, 1, "dry");

    const real = await t.call("POST", `/v1/checkpoints/${id}/restore`, { token });
    assert.deepEqual(real.body, { inserted: 2, updated: 1, deleted: 1, dry_run: false });
    const after = await t.db.sql<Json>(
      "SELECT id, title, done, version FROM todos WHERE bucket = 'a' ORDER BY id",
    );
    assert.deepEqual(
      after.map((r: Json) => [r.id, r.title, r.done]),
      before.map((r: Json) => [r.id, r.title, r.done]),
    );
    const version = (id: string) => after.find((r: Json) => r.id === id).version;
    assert.equal(version(changed.id), changed.version + 2, "the restore is a write: +1");
    assert.ok(version(moved.id) > moved.version, "moved back by an update");
    const again = await t.call("POST", `/v1/checkpoints/${id}/restore?dry_run=true`, { token });
    assert.deepEqual(again.body, { inserted: 0, updated: 0, deleted: 0, dry_run: true });
  } finally {
    await t.close();
  }
});

Deno.test("checkpoints and bucket data follow the access policy", opts, async () => {
  const t = await api();
  try {
    await seed(t);
    const other = await t.token(["b"], "b");
    const refused = await t.call("POST", "/v1/checkpoints", {
      token: other,
      body: { bucket: "a" },
    });
    assert.equal(refused.status, 403);
    const unknown = await t.call("POST", "/v1/checkpoints", {
      body: { bucket: "a", tables: ["nope"] },
    });
    assert.equal(unknown.status, 404);
    const bad = await t.call("POST", "/v1/checkpoints", { body: { bucket: "a", extra: 1 } });
    assert.equal(bad.status, 400);
    const id = (await t.call("POST", "/v1/checkpoints", { body: { bucket: "a" } })).body.id;
    await ready(t, id);
    assert.equal((await t.call("GET", `/v1/checkpoints/${id}`, { token: other })).status, 403);
    assert.equal((await download(t, id, "gzip", other)).res.status, 403);
    assert.equal((await t.call("GET", "/v1/checkpoints/not-an-id")).status, 400, "not a UUID");
    const mine = (await t.call("GET", "/v1/checkpoints?bucket=a")).body.checkpoints;
    assert.deepEqual(mine.map((c: Json) => c.id), [id]);
    const theirs = (await t.call("GET", "/v1/checkpoints", { token: other })).body.checkpoints;
    assert.deepEqual(theirs, [], "a checkpoint of a bucket one may not read is not listed");

    // Bucket data: the rows, then the cursor; the same refusals.
    const data = await t.app.fetch(
      new Request("http://crud/v1/buckets/a/data?tables=todos", {
        headers: { authorization: `Bearer ${await t.token(["a"], "a")}` },
      }),
    );
    assert.equal(data.status, 200);
    assert.equal(data.headers.get("content-type"), "application/x-ndjson");
    const lines = (await data.text()).split("\n").filter(Boolean).map((l) => JSON.parse(l));
    assert.equal(lines.length, 31);
    assert.ok(lines.slice(0, 30).every((l) => l.table === "public.todos" && l.row.bucket === "a"));
    assert.match(lines.at(-1).cursor, /^c2\./);
    const foreign = await t.call("GET", "/v1/buckets/a/data", { token: other });
    assert.equal(foreign.status, 403);
    assert.equal((await t.call("GET", "/v1/buckets/a/data?tables=nope")).status, 404);
  } finally {
    await t.close();
  }
});

Deno.test(
  "retention keeps the newest per bucket; the schedule makes one per bucket",
  opts,
  async () => {
    const t = await api();
    try {
      await seed(t);
      const policy = accessPolicy(undefined, "bucket");
      const catalog = new CatalogCache(() => loadCatalog(t.pool, "synchub", bucketColumns(policy)));
      const positions = new BusPositions(t.bus, "synchub");
      const checkpoints = new Checkpoints({
        databaseUrl: t.db.url,
        store: new CheckpointStore(t.pool),
        positions,
        events: new HubEvents(t.bus, "synchub", silentLogger),
        dir: await Deno.makeTempDir({ prefix: "synchub-ckpt-" }),
        retention: { count: 2 },
        log: silentLogger,
      });
      const deps = {
        checkpoints,
        catalog,
        policy,
        pool: t.pool,
        log: silentLogger,
      };
      const made: string[][] = [];
      for (let i = 0; i < 3; i++) made.push(await scheduledCheckpoints(deps, undefined));
      assert.equal(made[0]!.length, 2, "buckets a and b");
      const kept = await checkpoints.store.list();
      assert.deepEqual(
        kept.map((c) => c.id).sort(),
        [...made[1]!, ...made[2]!].sort(),
        "the oldest of each bucket is gone",
      );
      assert.ok(kept.every((c) => c.status === "ready" && c.scheduled));
      const files = [...Deno.readDirSync(checkpoints.path("x").replace(/\/x\.ndjson\.gz$/, ""))];
      assert.equal(files.length, 4, "their files too");

      // The cron schedule itself: every second, until stopped.
      const stop = startSchedule(deps, "* * * * * *", ["a"]);
      try {
        await waitFor(
          async () => (await checkpoints.store.list("a")).some((c) => !made.flat().includes(c.id)),
          "a scheduled checkpoint",
        );
      } finally {
        stop();
        await checkpoints.close();
      }
    } finally {
      await t.close();
    }
  },
);

Deno.test(
  "a checkpoint that cannot be written is failed, with a reason and no file",
  opts,
  async () => {
    const t = await api();
    const blocker = new pg.Client({ connectionString: t.db.url });
    try {
      await seed(t);
      assert.equal((await t.call("GET", "/v1/tables")).body.tables.length, 2);
      await blocker.connect();
      await blocker.query("BEGIN");
      await blocker.query("LOCK TABLE notes IN ACCESS EXCLUSIVE MODE");
      const { id } = (await t.call("POST", "/v1/checkpoints", {
        body: { bucket: "a", tables: ["notes"] },
      })).body;
      await waitFor(
        async () => (await t.call("GET", `/v1/checkpoints/${id}`)).body.progress?.table,
        "the writer to wait on the table",
      );
      await blocker.query("DROP TABLE notes");
      await blocker.query("COMMIT");
      const failed = await waitFor(async () => {
        const c = (await t.call("GET", `/v1/checkpoints/${id}`)).body;
        return c.status === "failed" ? c : undefined;
      }, "the checkpoint to fail");
      assert.ok(failed.error.length > 0);
      assert.doesNotMatch(failed.error, /\n\s+at /, "no stack trace");
      assert.equal((await download(t, id, "gzip")).res.status, 409);
      const files = [...Deno.readDirSync(t.checkpoints.path("x").replace(/\/x\.ndjson\.gz$/, ""))];
      assert.deepEqual(files, [], "no file, not even a part of one");
    } finally {
      await blocker.end().catch(() => {});
      await t.close();
    }
  },
);
