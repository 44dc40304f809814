/**
 * End to end, as a user sees it: a row written through the REST API reaches the WebSocket
 * subscribers of its bucket as a SPEC envelope, through PostgreSQL's WAL and the bus.
 */
import assert from "node:assert/strict";
import { envelopeSchema } from "../lib/envelope.ts";
import { type Stack, startStack } from "./support/stack.ts";
import { waitFor } from "./support/wait.ts";
import { TestClient } from "./support/ws_client.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function rest(stack: Stack, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${stack.crud.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? null : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

Deno.test(
  "REST write → WAL → bus → WebSocket, for its bucket only; resume gets exactly what was missed",
  opts,
  async () => {
    const stack = await startStack();
    const tokenA = await stack.token(["demo-a"]);
    const tokenB = await stack.token(["demo-b"]);
    const a = await TestClient.connect(stack.wsUrl, tokenA);
    const b = await TestClient.connect(stack.wsUrl, tokenB);
    try {
      const subA = await a.subscribe("public.todos");
      await b.subscribe("public.todos");
      await waitFor(
        () => stack.listener && fetch(`${stack.listener.url}/ready`).then((r) => r.ok),
        "the listener",
      );

      const created = await rest(stack, tokenA, "POST", "/v1/tables/todos/rows", {
        title: "buy milk",
      });
      assert.equal(created.status, 201);
      const row = created.body;
      const [c] = await a.changes(1);
      envelopeSchema.parse(c!.change);
      assert.equal(c!.sub, subA.sub);
      assert.equal(c!.change.op, "c");
      assert.deepEqual(c!.change.after, row, "the envelope's row is the row the API returned");
      assert.deepEqual(c!.change.key, { id: row.id });
      assert.equal(c!.change.bucket, "demo-a");
      assert.deepEqual([c!.change.source.schema, c!.change.source.table], ["public", "todos"]);

      // The client drops; the row changes twice while it is away.
      const cursor = c!.cursor;
      await a.close();
      const patched = await rest(stack, tokenA, "PATCH", `/v1/tables/todos/rows/${row.id}`, {
        done: true,
      });
      assert.equal(patched.status, 200);
      const deleted = await rest(stack, tokenA, "DELETE", `/v1/tables/todos/rows/${row.id}`);
      assert.equal(deleted.status, 200);

      const again = await TestClient.connect(stack.wsUrl, tokenA);
      try {
        await waitFor(async () => {
          const { end } = await stack.bus.range("synchub.pg.public.todos");
          return (end[0] ?? 0) >= 3;
        }, "the update and delete to reach the bus");
        await again.subscribe("public.todos", { since: cursor });
        const [u, d] = await again.changes(2);
        assert.equal(u!.change.op, "u");
        assert.deepEqual(u!.change.key, { id: row.id });
        assert.deepEqual(u!.change.before, row);
        assert.deepEqual(u!.change.after, patched.body);
        assert.deepEqual(u!.change.changed.sort(), ["done", "updated_at", "version"]);
        assert.equal(d!.change.op, "d");
        assert.deepEqual(d!.change.key, { id: row.id });
        assert.deepEqual(d!.change.before, patched.body);
        assert.equal(d!.change.after, null);
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(again.pendingChanges().length, 0, "exactly what was missed, nothing twice");
      } finally {
        await again.close();
      }
      assert.equal(b.pendingChanges().length, 0, "the other bucket saw nothing");
      assert.equal(b.frames.filter((f) => f.type === "error").length, 0);
    } finally {
      await b.close();
      await stack.close();
    }
  },
);

Deno.test(
  "write → client latency through the in-process stack (reported, not asserted)",
  opts,
  async () => {
    const stack = await startStack();
    const token = await stack.token(["demo-a"]);
    const client = await TestClient.connect(stack.wsUrl, token);
    try {
      await client.subscribeWhenServed("public.todos");
      const samples: number[] = [];
      for (let i = 0; i < 50; i++) {
        const started = performance.now();
        const r = await rest(stack, token, "POST", "/v1/tables/todos/rows", {
          title: `latency ${i}`,
        });
        assert.equal(r.status, 201);
        const [frame] = await client.changes(1);
        samples.push(performance.now() - started);
        assert.equal(frame!.change.after.id, r.body.id);
      }
      samples.sort((x, y) => x - y);
      const p = (q: number) =>
        samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!.toFixed(2);
      console.log(
        `REST write → WebSocket receipt over ${samples.length} writes: p50 ${p(0.5)} ms, p99 ${
          p(0.99)
        } ms`,
      );
    } finally {
      await client.close();
      await stack.close();
    }
  },
);

Deno.test(
  "a listener restart loses nothing; repeats carry the same envelope id",
  opts,
  async () => {
    const stack = await startStack();
    const token = await stack.token(["*"]);
    const client = await TestClient.connect(stack.wsUrl, token);
    try {
      await client.subscribeWhenServed("public.todos");
      await stack.db.sql(
        "INSERT INTO todos (title) SELECT 'before ' || g FROM generate_series(1, 20) g",
      );
      await client.changes(20);
      await stack.stopListener();
      await stack.db.sql(
        "INSERT INTO todos (title) SELECT 'while down ' || g FROM generate_series(1, 30) g",
      );
      stack.startListener();
      const got = await client.changes(30);
      const titles = new Set(got.map((f) => f.change.after.title));
      for (let g = 1; g <= 30; g++) {
        assert.ok(
          titles.has(`while down ${g}`),
          `lost "while down ${g}"`,
        );
      }
      const byId = new Map<string, string>();
      for (const f of [...got, ...client.pendingChanges()]) {
        const seen = byId.get(f.change.id);
        if (seen) assert.equal(seen, f.change.after.title, "a repeat is the same change");
        byId.set(f.change.id, f.change.after.title);
      }
    } finally {
      await client.close();
      await stack.close();
    }
  },
);

Deno.test("a row moved to another bucket leaves one view and enters the other", opts, async () => {
  const stack = await startStack();
  const admin = await stack.token(["*"]);
  const a = await TestClient.connect(stack.wsUrl, await stack.token(["demo-a"]));
  const b = await TestClient.connect(stack.wsUrl, await stack.token(["demo-b"]));
  try {
    await a.subscribe("public.todos");
    await b.subscribe("public.todos");
    const row = (await rest(stack, admin, "POST", "/v1/tables/todos/rows", {
      title: "secret plan",
      bucket: "demo-a",
    })).body;
    await a.changes(1);
    const moved = await rest(stack, admin, "PATCH", `/v1/tables/todos/rows/${row.id}`, {
      bucket: "demo-b",
      title: "shared plan",
    });
    assert.equal(moved.status, 200);

    const [out] = await a.changes(1);
    assert.equal(out!.reason, "moved_out");
    assert.deepEqual([out!.change.op, out!.change.after, out!.change.bucket], [
      "d",
      null,
      "demo-a",
    ]);
    assert.deepEqual(out!.change.key, { id: row.id });
    const [into] = await b.changes(1);
    assert.equal(into!.reason, "moved_in");
    assert.deepEqual([into!.change.op, into!.change.before, into!.change.bucket], [
      "c",
      null,
      "demo-b",
    ]);
    assert.deepEqual(into!.change.after, moved.body);
    assert.ok(
      !JSON.stringify(b.frames).includes("secret plan"),
      "b never sees the row as it was in a",
    );
    envelopeSchema.parse(out!.change);
    envelopeSchema.parse(into!.change);
  } finally {
    await Promise.all([a.close(), b.close()]);
    await stack.close();
  }
});

Deno.test(
  "a new user: registers, logs in, edits rows in their bucket, is refused elsewhere; of two " +
    "clients editing one row one wins, the other gets 409 with the winner",
  opts,
  async () => {
    const stack = await startStack();
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${stack.crud.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    };
    let ws: TestClient | undefined;
    try {
      const ada = { email: "ada@example.com", password: "analytical-engine" };
      const registered = await post("/v1/auth/register", ada);
      assert.equal(registered.status, 201);
      const bucket = registered.body.buckets[0];
      const phone = (await post("/v1/auth/login", ada)).body.access_token;
      const laptop = (await post("/v1/auth/login", ada)).body.access_token;
      await post("/v1/auth/register", { email: "bob@example.com", password: "difference-engine" });
      const bob =
        (await post("/v1/auth/login", { email: "bob@example.com", password: "difference-engine" }))
          .body.access_token;

      ws = await TestClient.connect(stack.wsUrl, phone);
      await ws.subscribe("public.todos");
      const created = await rest(stack, phone, "POST", "/v1/tables/todos/rows", { title: "notes" });
      assert.equal(created.status, 201);
      assert.equal(created.body.bucket, bucket);
      const id = created.body.id;
      const edited = await rest(stack, laptop, "PATCH", `/v1/tables/todos/rows/${id}`, {
        title: "notes on the engine",
      });
      assert.equal(edited.status, 200);

      // Elsewhere: another user's bucket, a bucket not granted, no token.
      assert.equal((await rest(stack, bob, "GET", `/v1/tables/todos/rows/${id}`)).status, 404);
      assert.equal(
        (await rest(stack, bob, "PATCH", `/v1/tables/todos/rows/${id}`, { title: "mine" })).status,
        404,
        "a row Bob cannot read does not exist for him",
      );
      const foreign = await rest(stack, phone, "POST", "/v1/tables/todos/rows", {
        title: "x",
        bucket: "finance",
      });
      assert.deepEqual([foreign.status, foreign.body.error.code], [403, "forbidden"]);
      assert.equal((await rest(stack, "", "GET", "/v1/tables/todos/rows")).status, 401);

      // Both devices read version 2 and edit it: the first write wins, the second gets 409 and
      // the winner, to roll its optimistic change back.
      const version = edited.body.version;
      const edit = (token: string, title: string) =>
        fetch(`${stack.crud.url}/v1/tables/todos/rows/${id}`, {
          method: "PATCH",
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
            "if-match": `"${version}"`,
          },
          body: JSON.stringify({ title }),
        }).then(async (r) => ({ status: r.status, body: await r.json() }));
      const results = await Promise.all([
        edit(phone, "from the phone"),
        edit(laptop, "from the laptop"),
      ]);
      const won = results.filter((r) => r.status === 200);
      const lost = results.filter((r) => r.status === 409);
      assert.deepEqual([won.length, lost.length], [1, 1], JSON.stringify(results));
      assert.equal(lost[0]!.body.error.code, "conflict");
      assert.deepEqual(
        lost[0]!.body.error.details.current,
        won[0]!.body,
        "the loser sees the winner",
      );

      // Last write wins on updated_at: an edit made earlier (offline) loses to the stored row.
      const stale = await rest(stack, laptop, "PATCH", `/v1/tables/todos/rows/${id}`, {
        title: "written offline an hour ago",
        updated_at: new Date(Date.now() - 3_600_000).toISOString(),
      });
      assert.equal(stale.status, 409);
      assert.deepEqual(stale.body.error.details.current, won[0]!.body);

      // The subscriber saw the create, the edit and the winner, in order, and nothing else.
      const seen = await ws.changes(3);
      assert.deepEqual(seen.map((f) => f.change.op), ["c", "u", "u"]);
      assert.deepEqual(seen[2]!.change.after, won[0]!.body);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(ws.pendingChanges().length, 0, "rejected writes published nothing");
    } finally {
      await ws?.close();
      await stack.close();
    }
  },
);
