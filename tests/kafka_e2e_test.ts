/** The hub through a real Kafka broker: services on buses of their own, gateways side by side. */
import assert from "node:assert/strict";
import { envelopeSchema } from "../lib/envelope.ts";
import { sharedBrokers } from "./support/kafka.ts";
import { type Stack, startStack } from "./support/stack.ts";
import { TestClient } from "./support/ws_client.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function post(stack: Stack, token: string, title: string) {
  const res = await fetch(`${stack.crud.url}/v1/tables/todos/rows`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ title }),
  });
  assert.equal(res.status, 201);
  return await res.json();
}

Deno.test(
  "through Kafka: a REST write reaches its subscribers; the topic holds the SPEC message",
  opts,
  async () => {
    const stack = await startStack({ kafka: await sharedBrokers() });
    const token = await stack.token(["a"]);
    const client = await TestClient.connect(stack.wsUrl, token);
    try {
      await client.subscribeWhenServed("public.todos");
      const row = await post(stack, token, "via kafka");
      const [c] = await client.changes(1);
      envelopeSchema.parse(c!.change);
      assert.deepEqual(c!.change.after, row);

      const topic = `${stack.config.topicPrefix}.pg.public.todos`;
      const { end } = await stack.bus.range(topic);
      const records = [];
      for await (const batch of stack.bus.read(topic, end.map(() => 0), end)) {
        records.push(...batch);
      }
      assert.equal(records.length, 1);
      assert.equal(
        records[0]!.key,
        JSON.stringify({ id: row.id }),
        "message key: the JSON of the key",
      );
      assert.deepEqual(JSON.parse(records[0]!.value!), c!.change, "message value: the envelope");
    } finally {
      await client.close();
      await stack.close();
    }
  },
);

Deno.test(
  "through Kafka: a cursor from one gateway resumes on another, exactly",
  opts,
  async () => {
    const stack = await startStack({ kafka: await sharedBrokers() });
    const otherUrl = await stack.addGateway();
    const token = await stack.token(["a"]);
    const first = await TestClient.connect(stack.wsUrl, token);
    try {
      await first.subscribe("public.todos");
      await post(stack, token, "one");
      await post(stack, token, "two");
      const seen = await first.changes(2);
      await first.close();
      const missed = [await post(stack, token, "three"), await post(stack, token, "four")];

      const second = await TestClient.connect(otherUrl, token);
      try {
        const sub = await second.subscribe("public.todos", { since: seen[1]!.cursor });
        assert.equal(sub.type, "subscribed", JSON.stringify(sub));
        const got = await second.changes(2);
        assert.deepEqual(got.map((f) => f.change.after.id), missed.map((r) => r.id));
        const live = await post(stack, token, "five");
        const [next] = await second.changes(1);
        assert.equal(next!.change.after.id, live.id);
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(second.pendingChanges().length, 0, "nothing twice");
      } finally {
        await second.close();
      }
    } finally {
      await stack.close();
    }
  },
);

Deno.test("through Kafka: a listener restart loses nothing", opts, async () => {
  const stack = await startStack({ kafka: await sharedBrokers() });
  const client = await TestClient.connect(stack.wsUrl, await stack.token(["*"]));
  try {
    await client.subscribeWhenServed("public.todos");
    await stack.stopListener();
    await stack.db.sql(
      "INSERT INTO todos (title) SELECT 'down ' || g FROM generate_series(1, 25) g",
    );
    stack.startListener();
    const got = await client.changes(25);
    assert.deepEqual(new Set(got.map((f) => f.change.after.title)).size, 25);
  } finally {
    await client.close();
    await stack.close();
  }
});
