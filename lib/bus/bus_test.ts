import assert from "node:assert/strict";
import { sampleEnvelope } from "../../tests/support/envelopes.ts";
import { messageFor } from "./bus.ts";

Deno.test("the message key is the JSON of the envelope key; the value the envelope", () => {
  const e = sampleEnvelope();
  const m = messageFor("synchub", e);
  assert.equal(m.key, '{"id":"a"}');
  assert.deepEqual(JSON.parse(m.value!).key, e.key);
  assert.equal(JSON.parse(m.value!).id, e.id);
  assert.equal(m.topic, "synchub.pg.public.todos");
});
