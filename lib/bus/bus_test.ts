import assert from "node:assert/strict";
import { sampleEnvelope } from "../../tests/support/envelopes.ts";
import { messageFor, topicFor } from "./bus.ts";

Deno.test("topics follow SPEC §3 and replace characters Kafka refuses", () => {
  assert.equal(
    topicFor("synchub", { name: "pg", schema: "public", db: "app", table: "todos" }),
    "synchub.pg.public.todos",
  );
  assert.equal(
    topicFor("synchub", { name: "my", schema: null, db: "shop", table: "order lines" }),
    "synchub.my.shop.order_lines",
  );
});

Deno.test("the message key is the JSON of the envelope key; the value the envelope", () => {
  const e = sampleEnvelope();
  const m = messageFor("synchub", e);
  assert.equal(m.key, '{"id":"a"}');
  assert.deepEqual(JSON.parse(m.value), e);
  assert.equal(m.topic, "synchub.pg.public.todos");
});
