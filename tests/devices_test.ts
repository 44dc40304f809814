/**
 * Devices and stored subscriptions (SPEC §10): owned by a token's holder, resumed over the
 * WebSocket from their last acknowledged cursor; and the gateway's `GET /stats`.
 */
import assert from "node:assert/strict";
import { signToken } from "../lib/jwt.ts";
import { JWT_SECRET, type Stack, startStack } from "./support/stack.ts";
import { waitFor } from "./support/wait.ts";
import { TestClient } from "./support/ws_client.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function rest(stack: Stack, token: string) {
  return async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${stack.crud.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? null : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
}

const tokenOf = (sub: string, buckets: string[]) => signToken(JWT_SECRET, { sub, buckets });

Deno.test("devices and subscriptions belong to their owner; others get 404", opts, async () => {
  const stack = await startStack();
  try {
    const ada = rest(stack, await tokenOf("ada", ["a"]));
    const bob = rest(stack, await tokenOf("bob", ["b"]));
    const phone = await ada("POST", "/v1/devices", { name: "phone", platform: "ios" });
    assert.equal(phone.status, 201, JSON.stringify(phone.body));
    assert.deepEqual(Object.keys(phone.body).sort(), ["created_at", "id", "name", "platform"]);
    assert.equal((await ada("POST", "/v1/devices", { name: "x" })).status, 400);
    const id = phone.body.id;
    assert.deepEqual(
      (await ada("GET", "/v1/devices")).body.devices.map((d: { id: string }) => d.id),
      [id],
    );
    assert.deepEqual((await bob("GET", "/v1/devices")).body.devices, []);
    assert.equal((await ada("GET", `/v1/devices/${id}`)).status, 200);
    assert.equal((await bob("GET", `/v1/devices/${id}`)).status, 404);
    assert.equal((await bob("DELETE", `/v1/devices/${id}`)).status, 404);
    assert.equal((await bob("GET", `/v1/subscriptions?device_id=${id}`)).status, 404);
    const theirs = await bob("POST", "/v1/subscriptions", { device_id: id, table: "todos" });
    assert.equal(theirs.status, 404, "a subscription on someone else's device");

    const sub = await ada("POST", "/v1/subscriptions", {
      device_id: id,
      table: "todos",
      where: { done: false },
    });
    assert.equal(sub.status, 201, JSON.stringify(sub.body));
    assert.equal(sub.body.table, "public.todos");
    assert.deepEqual(sub.body.where, { done: false });
    assert.match(sub.body.cursor, /^c1\./, "a cursor from its creation");
    assert.equal(sub.body.acked_at, null);
    const badColumn = await ada("POST", "/v1/subscriptions", {
      device_id: id,
      table: "todos",
      where: { colour: "red" },
    });
    assert.equal(badColumn.status, 400);
    assert.match(badColumn.body.error.message, /colour/);
    const unknown = await ada("POST", "/v1/subscriptions", { device_id: id, table: "nope" });
    assert.equal(unknown.status, 404);
    assert.equal((await ada("GET", "/v1/subscriptions")).body.subscriptions.length, 1);
    assert.equal((await bob("GET", "/v1/subscriptions")).body.subscriptions.length, 0);
    assert.equal((await bob("DELETE", `/v1/subscriptions/${sub.body.id}`)).status, 404);
    assert.equal((await ada("DELETE", `/v1/subscriptions/${sub.body.id}`)).status, 200);
    assert.equal((await ada("DELETE", `/v1/devices/${id}`)).status, 200);
    assert.equal((await ada("GET", `/v1/devices/${id}`)).status, 404);
  } finally {
    await stack.close();
  }
});

Deno.test(
  "resume_device: every stored subscription from its last ack; what was not acked comes again",
  opts,
  async () => {
    const stack = await startStack();
    const insert = (title: string, bucket = "a") =>
      stack.db.sql("INSERT INTO todos (bucket, title) VALUES ($1, $2)", [bucket, title]);
    try {
      const token = await tokenOf("ada", ["a"]);
      const ada = rest(stack, token);
      const device = (await ada("POST", "/v1/devices", { name: "laptop", platform: "web" })).body;
      const all = (await ada("POST", "/v1/subscriptions", { device_id: device.id, table: "todos" }))
        .body;
      const open = (await ada("POST", "/v1/subscriptions", {
        device_id: device.id,
        table: "public.todos",
        where: { title: { neq: "two" } },
      })).body;
      await insert("one"); // after the subscriptions were made: delivered on the first resume

      const first = await TestClient.connect(stack.wsUrl, token);
      first.send({ type: "resume_device", ref: "r1", device: device.id });
      const subscribed = [await first.reply("r1"), await first.reply("r1")];
      assert.deepEqual(subscribed.map((f) => f.type), ["subscribed", "subscribed"]);
      assert.deepEqual(subscribed.map((f) => f.subscription), [all.id, open.id]);
      const [subAll, subOpen] = subscribed.map((f) => f.sub);
      await insert("two");
      await insert("three");
      const got = await first.changes(5); // one, two, three for `all`; one, three for `open`
      const of = (sub: string) => got.filter((f) => f.sub === sub).map((f) => f.change.after.title);
      assert.deepEqual(of(subAll), ["one", "two", "three"]);
      assert.deepEqual(of(subOpen), ["one", "three"]);
      // `all` acknowledges up to "two", `open` nothing.
      const two = got.find((f) => f.sub === subAll && f.change.after.title === "two")!;
      first.send({ type: "ack", sub: subAll, cursor: two.cursor });
      first.send({ type: "ack", sub: "s99", cursor: two.cursor, ref: "bad" });
      assert.equal((await first.reply("bad")).code, "not_found");
      first.send({ type: "ping", ref: "p" });
      await first.reply("p"); // messages are handled in order: the ack is stored
      await first.close();

      await insert("four"); // while the device is away
      const second = await TestClient.connect(stack.wsUrl, token);
      try {
        second.send({ type: "resume_device", ref: "r2", device: device.id });
        const again = [await second.reply("r2"), await second.reply("r2")];
        assert.deepEqual(again.map((f) => f.type), ["subscribed", "subscribed"]);
        const got2 = await second.changes(5); // three, four; one, three, four
        const of2 = (i: number) =>
          got2.filter((f) => f.sub === again[i]!.sub).map((f) => f.change.after.title);
        assert.deepEqual(of2(0), ["three", "four"], "from the last ack");
        assert.deepEqual(of2(1), ["one", "three", "four"], "never acked: from its creation");
        await new Promise((r) => setTimeout(r, 300));
        assert.deepEqual(second.pendingChanges(), []);
        second.send({ type: "resume_device", ref: "r3", device: device.id });
        assert.equal((await second.reply("r3")).code, "bad_request", "once per connection");
      } finally {
        await second.close();
      }

      // Only the owner may resume it.
      const mallory = await TestClient.connect(stack.wsUrl, await tokenOf("mallory", ["a"]));
      try {
        mallory.send({ type: "resume_device", ref: "m", device: device.id });
        assert.equal((await mallory.reply("m")).code, "not_found");
      } finally {
        await mallory.close();
      }
    } finally {
      await stack.close();
    }
  },
);

Deno.test("GET /stats: counts only, active users by distinct sub", opts, async () => {
  const stack = await startStack();
  const stats = async () => {
    const res = await fetch(`${stack.gateway.url}/stats`);
    assert.equal(res.status, 200, "no token needed");
    return await res.json();
  };
  const clients: TestClient[] = [];
  try {
    const before = await stats();
    assert.deepEqual(Object.keys(before).sort(), [
      "active_connections",
      "active_subscriptions",
      "active_users",
      "delivered_changes",
      "lag_ms",
      "total_changes",
    ]);
    assert.equal(before.active_connections, 0);
    for (const sub of ["ada", "ada", "bob"]) {
      const c = await TestClient.connect(stack.wsUrl, await tokenOf(sub, ["a"]));
      clients.push(c);
      await c.subscribe("public.todos");
    }
    await clients[0]!.subscribe("public.todos", { where: { done: true } });
    await stack.db.sql("INSERT INTO todos (bucket, title) VALUES ('a', 'x'), ('a', 'y')");
    for (const c of clients) await c.changes(2);
    const now = await waitFor(async () => {
      const s = await stats();
      return s.delivered_changes >= 6 ? s : undefined;
    }, "the deliveries to count");
    assert.equal(now.active_connections, 3);
    assert.equal(now.active_users, 2);
    assert.equal(now.active_subscriptions, 4);
    assert.equal(now.total_changes - before.total_changes, 2);
    assert.equal(now.delivered_changes, 6);
    assert.ok(now.lag_ms >= 0 && now.lag_ms < 60_000, String(now.lag_ms));
    assert.doesNotMatch(JSON.stringify(now), /ada|bob/, "no identities");
    await clients.pop()!.close();
    await waitFor(async () => (await stats()).active_users === 1, "bob to leave");
  } finally {
    for (const c of clients) await c.close();
    await stack.close();
  }
});
