/**
 * The SDK against the real hub (crud + listener + gateway in process, on a test database):
 * optimistic writes, convergence, rollbacks, retries through a faulty network, restarts.
 */
import assert from "node:assert/strict";
import { fileStorage } from "../sdk/storage/file.ts";
import { byId, online, rowsWhen, sdkClient } from "./support/sdk_clients.ts";
import { type Stack, startStack } from "./support/stack.ts";
import { waitFor } from "./support/wait.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const TODOS = "public.todos";

async function rest(
  stack: Stack,
  method: string,
  path: string,
  body?: unknown,
  buckets = ["demo-a"],
) {
  const res = await fetch(`${stack.crud.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${await stack.token(buckets)}`,
      "content-type": "application/json",
    },
    body: body === undefined ? null : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function count(stack: Stack, where = "true"): Promise<number> {
  const [row] = await stack.db.sql<{ n: string }>(
    `SELECT count(*) AS n FROM public.todos WHERE ${where}`,
  );
  return Number(row!.n);
}

Deno.test("two clients converge; local writes show at once and are confirmed", opts, async () => {
  const stack = await startStack();
  const a = await sdkClient(stack);
  const b = await sdkClient(stack);
  try {
    const seenByA: number[] = [];
    a.hub.table(TODOS).subscribe((rows) => seenByA.push(rows.length));
    await Promise.all([online(a.hub), online(b.hub)]);
    await rowsWhen(b.hub, TODOS, () => true, "b's first rows");

    const row = await a.hub.table(TODOS).insert({ title: "milk" });
    assert.match(String(row.id), /^[0-9a-f-]{36}$/, "a client-generated key");
    assert.equal(row.title, "milk");
    assert.equal(byId(a.hub.table(TODOS).rows(), row.id)?.title, "milk", "visible locally at once");
    assert.equal(a.hub.pendingCount(), 1, "queued until acknowledged");

    const inB = await rowsWhen(b.hub, TODOS, (rows) => !!byId(rows, row.id), "the row in b");
    assert.equal(byId(inB, row.id)!.bucket, "demo-a");
    await a.hub.flush();
    assert.equal(a.hub.pendingCount(), 0);
    assert.equal(byId(a.hub.table(TODOS).rows(), row.id)!.version, 1, "the server's row");

    await b.hub.table(TODOS).update(row.id, { done: true, title: "oat milk" });
    await rowsWhen(a.hub, TODOS, (rows) => byId(rows, row.id)?.done === true, "a sees b's edit");
    assert.equal(byId(a.hub.table(TODOS).rows(), row.id)!.title, "oat milk");
    await b.hub.flush();
    assert.equal(byId(b.hub.table(TODOS).rows(), row.id)!.version, 2);

    // A view with `where`: the row leaves it when it stops matching, locally at once.
    const open = a.hub.table(TODOS, { where: { done: false } });
    const second = await open.insert({ title: "bread", done: false });
    await waitFor(() => open.rows().some((r) => r.id === second.id), "the open view");
    await open.update(second.id, { done: true });
    assert.ok(!open.rows().some((r) => r.id === second.id), "left the view locally");

    await a.hub.table(TODOS).delete(row.id);
    await rowsWhen(b.hub, TODOS, (rows) => !byId(rows, row.id), "b sees the delete");
    await a.hub.flush();
    assert.equal(await count(stack), 1);
    assert.ok(seenByA.length > 2, "the subscriber was called for each change");
    assert.deepEqual(a.errors, []);
    assert.deepEqual(a.conflicts, []);
  } finally {
    await a.close();
    await b.close();
    await stack.close();
  }
});

Deno.test(
  "a conflicting offline edit rolls back to the server's row and emits conflict",
  opts,
  async () => {
    const stack = await startStack();
    const a = await sdkClient(stack);
    try {
      await online(a.hub);
      const row = await a.hub.table(TODOS).insert({ title: "draft" });
      await a.hub.flush();

      a.offline(true);
      await a.hub.table(TODOS).update(row.id, { title: "mine" });
      // Someone else wins meanwhile.
      const theirs = await rest(stack, "PATCH", `/v1/tables/todos/rows/${row.id}`, {
        title: "theirs",
      });
      assert.equal(theirs.status, 200);
      assert.equal(byId(a.hub.table(TODOS).rows(), row.id)!.title, "mine", "optimistic");

      a.offline(false);
      await a.hub.flush();
      assert.equal(a.conflicts.length, 1);
      assert.equal(a.conflicts[0]!.op, "update");
      assert.deepEqual(a.conflicts[0]!.local, { title: "mine" });
      assert.equal(a.conflicts[0]!.server!.title, "theirs");
      assert.equal(byId(a.hub.table(TODOS).rows(), row.id)!.title, "theirs", "rolled back");
      const [stored] = await stack.db.sql(`SELECT title FROM public.todos WHERE id = $1`, [row.id]);
      assert.equal(stored!.title, "theirs");
    } finally {
      await a.close();
      await stack.close();
    }
  },
);

Deno.test(
  "queued writes go as a batch; a refused one is isolated and rolled back",
  opts,
  async () => {
    const stack = await startStack();
    const a = await sdkClient(stack);
    try {
      await online(a.hub);
      a.offline(true);
      const t = a.hub.table(TODOS);
      const first = await t.insert({ title: "one" });
      const bad = await t.insert({ title: "two", done: "not a boolean" });
      const third = await t.insert({ title: "three" });
      const other = await t.insert({ title: "elsewhere", bucket: "demo-b" }); // not our bucket: 403
      await t.update(first.id, { title: "one, edited" });
      assert.equal(a.hub.pendingCount(), 5);
      assert.equal(t.rows().length, 4, "all shown while queued");

      a.offline(false);
      await a.hub.flush();
      assert.equal(a.hub.pendingCount(), 0);
      const titles =
        (await stack.db.sql<{ title: string }>("SELECT title FROM public.todos ORDER BY title"))
          .map((r) => r.title);
      assert.deepEqual(titles, ["one, edited", "three"]);
      assert.deepEqual(a.errors.map((e) => [e.status, e.op, e.rolledBack]), [
        [400, "insert", true],
        [
          403,
          "insert",
          true,
        ],
      ]);
      assert.deepEqual(a.errors.map((e) => e.key!.id), [bad.id, other.id]);
      await rowsWhen(a.hub, TODOS, (rows) => rows.length === 2, "the refused rows gone locally");
      assert.equal(byId(t.rows(), third.id)!.title, "three");
    } finally {
      await a.close();
      await stack.close();
    }
  },
);

Deno.test(
  "a lost response: the retried write is applied once (Idempotency-Key)",
  opts,
  async () => {
    const stack = await startStack();
    const a = await sdkClient(stack);
    try {
      await online(a.hub);
      a.rest.dropResponseTo(/^POST \/v1\/tables\/public\.todos\/rows /);
      const row = await a.hub.table(TODOS).insert({ title: "once" });
      await a.hub.flush();
      assert.equal(a.rest.dropped, 1, "the first response was swallowed");
      assert.equal(await count(stack), 1, "applied once");
      assert.deepEqual(a.errors, [], "no rollback: the replayed answer confirmed it");
      assert.deepEqual(a.conflicts, []);

      // The same for a batch.
      a.offline(true);
      for (let i = 0; i < 5; i++) await a.hub.table(TODOS).insert({ title: `batch ${i}` });
      a.offline(false);
      a.rest.dropResponseTo(/^POST \/v1\/tables\/public\.todos\/batch /);
      await a.hub.flush();
      assert.equal(a.rest.dropped, 2);
      assert.equal(await count(stack), 6);
      assert.equal(byId(a.hub.table(TODOS).rows(), row.id)!.version, 1);
    } finally {
      await a.close();
      await stack.close();
    }
  },
);

Deno.test("connections cut: the socket resumes from its cursor, nothing missed", opts, async () => {
  const stack = await startStack();
  const a = await sdkClient(stack);
  try {
    await online(a.hub);
    await rowsWhen(a.hub, TODOS, () => true, "first rows");
    const statuses: string[] = [];
    a.hub.on("status", (s) => statuses.push(s));
    a.offline(true);
    await waitFor(() => a.hub.status === "offline", "offline");
    for (let i = 0; i < 3; i++) {
      assert.equal(
        (await rest(stack, "POST", "/v1/tables/todos/rows", { title: `away ${i}` })).status,
        201,
      );
    }
    const mine = await a.hub.table(TODOS).insert({ title: "mine, offline" });
    a.offline(false);
    await rowsWhen(a.hub, TODOS, (rows) => rows.length === 4, "the changes made while away");
    await a.hub.flush();
    assert.ok(statuses.includes("offline") && statuses.at(-1) === "online", statuses.join());
    assert.equal(byId(a.hub.table(TODOS).rows(), mine.id)!.version, 1);

    // Cut mid-stream: everything written meanwhile still arrives, once.
    a.ws.cut();
    await rest(stack, "POST", "/v1/tables/todos/rows", { title: "during the cut" });
    const rows = await rowsWhen(
      a.hub,
      TODOS,
      (r) => r.length === 5,
      "the row written during the cut",
    );
    assert.equal(new Set(rows.map((r) => r.id)).size, 5);
    assert.ok(a.hub.lastSyncedAt() instanceof Date);
  } finally {
    await a.close();
    await stack.close();
  }
});

Deno.test(
  "a restart with the same file store: local rows and the queue survive",
  opts,
  async () => {
    const stack = await startStack();
    const dir = await Deno.makeTempDir({ prefix: "synchub-sdk-file-" });
    try {
      const first = await sdkClient(stack, { storage: fileStorage(dir) });
      await online(first.hub);
      const kept = await first.hub.table(TODOS).insert({ title: "synced before" });
      await first.hub.flush();
      first.offline(true);
      const queued = await first.hub.table(TODOS).insert({ title: "queued" });
      await first.hub.table(TODOS).update(kept.id, { done: true });
      await first.close(); // the process ends with two writes queued

      const second = await sdkClient(stack, { storage: fileStorage(dir) });
      second.offline(true);
      const t = second.hub.table(TODOS);
      const local = await waitFor(
        () => t.rows().length === 2 ? t.rows() : undefined,
        "rows from storage",
      );
      assert.equal(byId(local, kept.id)!.done, true, "the queued edit is on top of the stored row");
      assert.equal(byId(local, queued.id)!.title, "queued");
      await waitFor(() => second.hub.pendingCount() === 2, "the queue from storage");
      second.offline(false);
      await second.hub.flush();
      assert.equal(await count(stack), 2);
      assert.equal(await count(stack, "done"), 1);
      await second.close();
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await stack.close();
    }
  },
);

Deno.test(
  "cursor expired: a fresh snapshot replaces the local rows, queued writes stay on top",
  opts,
  async () => {
    // Retention of about a second, so the stored cursor falls out of it.
    const stack = await startStack({ env: { CURSOR_RETENTION_HOURS: "0.0003" } });
    const dir = await Deno.makeTempDir({ prefix: "synchub-sdk-expired-" });
    try {
      const first = await sdkClient(stack, { storage: fileStorage(dir) });
      await online(first.hub);
      const gone = await first.hub.table(TODOS).insert({ title: "deleted while away" });
      const edited = await first.hub.table(TODOS).insert({ title: "edited while away" });
      await first.hub.flush();
      await rowsWhen(
        first.hub,
        TODOS,
        (r) => r.every((x) => x.version === 1) && r.length === 2,
        "acked",
      );
      first.offline(true);
      const mine = await first.hub.table(TODOS).insert({ title: "mine, queued" });
      await first.close();
      const seen = (await stack.bus.range("synchub.pg.public.todos")).end[0]!;

      await rest(stack, "DELETE", `/v1/tables/todos/rows/${gone.id}`);
      await rest(stack, "PATCH", `/v1/tables/todos/rows/${edited.id}`, { title: "edited" });
      await new Promise((r) => setTimeout(r, 1500));
      await rest(stack, "POST", "/v1/tables/todos/rows", { title: "new while away" }); // trims the bus
      await waitFor(
        async () => (await stack.bus.range("synchub.pg.public.todos")).start[0]! > seen,
        "the stored cursor to fall out of retention",
      );

      const second = await sdkClient(stack, { storage: fileStorage(dir) });
      const rows = await rowsWhen(
        second.hub,
        TODOS,
        (r) => r.length === 3 && !byId(r, gone.id),
        "the snapshot reconciled",
      );
      assert.equal(byId(rows, edited.id)!.title, "edited");
      assert.ok(rows.some((r) => r.title === "new while away"));
      assert.equal(byId(rows, mine.id)!.title, "mine, queued", "the queued insert stays on top");
      await second.hub.flush();
      assert.equal(await count(stack), 3);
      await second.close();
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await stack.close();
    }
  },
);

Deno.test(
  "tokens: a refused socket and request get one refresh; authSession refreshes before expiry",
  opts,
  async () => {
    const stack = await startStack({ env: { PASSWORD_HASH_ITERATIONS: "1000" } });
    const { signToken } = await import("../lib/jwt.ts");
    const { JWT_SECRET } = await import("./support/stack.ts");
    const { SyncHub } = await import("../sdk/sync_hub.ts");
    const { memoryStorage } = await import("../sdk/storage/memory.ts");
    const { authSession, signIn } = await import("../sdk/auth.ts");
    try {
      // A provider whose token has expired: the socket is refused, then the write; one refresh each.
      const expired = await signToken(JWT_SECRET, { sub: "tester", buckets: ["demo-a"] }, -60);
      let refreshes = 0;
      let current = expired;
      const hub = new SyncHub({
        url: stack.crud.url,
        wsUrl: stack.wsUrl,
        token: {
          token: () => Promise.resolve(current),
          refresh: async () => {
            refreshes++;
            return current = await stack.token(["demo-a"]);
          },
        },
        storage: memoryStorage(),
      });
      await online(hub);
      assert.ok(refreshes >= 1);
      await hub.table(TODOS).insert({ title: "after a refresh" });
      await hub.flush();
      assert.equal(await count(stack), 1);
      await hub.close();

      // A signed-in session close to expiry refreshes (rotating the refresh token) before use.
      const email = "refresh@example.com", password = "correct horse battery";
      await fetch(`${stack.crud.url}/v1/auth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email, password }),
      }).then((r) => r.body?.cancel());
      let saved: Awaited<ReturnType<typeof signIn>> | null = await signIn(
        stack.crud.url,
        email,
        password,
      );
      const first = saved;
      saved = { ...saved, expires_at: Date.now() + 1000 };
      const session = authSession({
        url: stack.crud.url,
        load: () => saved,
        save: (t) => void (saved = t),
      });
      const token = await session.token();
      assert.equal(typeof token, "string"); // the same claims in the same second sign identically
      assert.notEqual(saved!.refresh_token, first.refresh_token, "rotated and saved");
      assert.ok(saved!.expires_at > Date.now() + 60_000);
      assert.equal(await session.token(), token, "no refresh while the token is fresh");
    } finally {
      await stack.close();
    }
  },
);
