/**
 * Hub events (SPEC §10) on both buses: what accounts, grants, REST conflicts, checkpoints and
 * sync runs publish — and that tokens carry granted buckets after a refresh.
 */
import assert from "node:assert/strict";
import type { Bus } from "../lib/bus/bus.ts";
import { type HubEvent, HubEvents, parseEvent } from "../lib/events.ts";
import { silentLogger } from "../lib/log.ts";
import { api, type Json } from "./support/crud.ts";
import { eventsOf } from "./support/events.ts";
import { sharedBrokers } from "./support/kafka.ts";
import { startStack } from "./support/stack.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

type Call = (
  method: string,
  path: string,
  o?: { token?: string | null; body?: unknown; headers?: Record<string, string> },
) => Promise<{ status: number; body: Json }>;

const payload = (token: string) =>
  JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")));

async function story(call: Call, bus: Bus, prefix: string) {
  const password = "correct horse battery";
  const admin = await call("POST", "/v1/auth/register", {
    token: null,
    body: { email: "Boss@example.com", password },
  });
  assert.equal(admin.status, 201, JSON.stringify(admin.body));
  const user = (await call("POST", "/v1/auth/register", {
    token: null,
    body: { email: "ada@example.com", password },
  })).body;
  const login = async (email: string) =>
    (await call("POST", "/v1/auth/login", { token: null, body: { email, password } })).body;
  const adminTokens = await login("boss@example.com");
  const userTokens = await login("ada@example.com");
  assert.deepEqual(payload(userTokens.access_token).buckets, [`user:${user.id}`]);

  const granted = await call("POST", `/v1/admin/users/${user.id}/buckets`, {
    token: adminTokens.access_token,
    body: { bucket: "team" },
  });
  assert.equal(granted.status, 200, JSON.stringify(granted.body));
  // The next token of the session carries the granted bucket.
  const refreshed = await call("POST", "/v1/auth/refresh", {
    token: null,
    body: { refresh_token: userTokens.refresh_token },
  });
  assert.equal(refreshed.status, 200);
  const token = refreshed.body.access_token as string;
  assert.deepEqual(payload(token).buckets, [`user:${user.id}`, "team"]);

  const row = await call("POST", "/v1/tables/todos/rows", {
    token,
    body: { title: "shared", bucket: "team" },
  });
  assert.equal(row.status, 201, JSON.stringify(row.body));
  const conflict = await call("PATCH", `/v1/tables/todos/rows/${row.body.id}`, {
    token,
    body: { done: true },
    headers: { "if-match": "41" },
  });
  assert.equal(conflict.status, 409);

  const checkpoint = await call("POST", "/v1/checkpoints", { token, body: { bucket: "team" } });
  assert.equal(checkpoint.status, 202, JSON.stringify(checkpoint.body));
  await new HubEvents(bus, prefix, silentLogger).syncRun("completed", {
    id: "run-1",
    status: "completed",
    rows: 3,
  });

  const all = {
    created: await eventsOf(bus, prefix, "user.created", 2),
    assigned: await eventsOf(bus, prefix, "bucket.assigned", 3),
    conflict: await eventsOf(bus, prefix, "conflict.detected", 1),
    checkpoint: await eventsOf(bus, prefix, "checkpoint.created", 1),
    sync: await eventsOf(bus, prefix, "sync.completed", 1),
  };
  const data = (raw: string[]) =>
    raw.map((r) => {
      const e = parseEvent(r) as HubEvent<Record<string, unknown>>;
      assert.ok(e, r);
      assert.equal(typeof e.ts_ms, "number");
      assert.match(e.id, /^[0-9a-f-]{36}$/);
      return e.data;
    });
  assert.deepEqual(
    data(all.created).map((d) => d.user_id).sort(),
    [admin.body.id, user.id].sort(),
  );
  assert.deepEqual(
    data(all.assigned).filter((d) => d.user_id === user.id).map((d) => d.bucket).sort(),
    ["team", `user:${user.id}`],
  );
  assert.deepEqual(data(all.conflict), [
    { source: "rest", table: "public.todos", key: { id: row.body.id } },
  ]);
  assert.deepEqual(data(all.checkpoint), [
    { checkpoint_id: checkpoint.body.id, bucket: "team", rows: 1 },
  ]);
  assert.deepEqual(data(all.sync), [{ id: "run-1", status: "completed", rows: 3 }]);
  const everything = Object.values(all).flat().join("\n");
  for (const secret of ["example.com", password, token, userTokens.refresh_token]) {
    assert.ok(!everything.includes(secret), `an event holds ${secret.slice(0, 12)}…`);
  }
}

Deno.test(
  "hub events on the in-process bus; granted buckets in refreshed tokens",
  opts,
  async () => {
    const t = await api({}, ["boss@example.com"]);
    try {
      await story(t.call, t.bus, "synchub");
    } finally {
      await t.close();
    }
  },
);

Deno.test("hub events on Kafka", opts, async () => {
  const stack = await startStack({
    kafka: await sharedBrokers(),
    env: { ADMIN_EMAILS: "boss@example.com", PASSWORD_HASH_ITERATIONS: "1000" },
  });
  const call: Call = async (method, path, o = {}) => {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      ...o.headers,
    };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    const res = await fetch(`${stack.crud.url}${path}`, {
      method,
      headers,
      body: o.body === undefined ? null : JSON.stringify(o.body),
    });
    return { status: res.status, body: await res.json() };
  };
  try {
    await story(call, stack.bus, stack.config.topicPrefix);
  } finally {
    await stack.close();
  }
});
