/** `snapshot: true`: the current rows, then `synced`, then the live stream, without gap or double. */
import assert from "node:assert/strict";
import { envelopeSchema } from "../lib/envelope.ts";
import { startStack } from "./support/stack.ts";
import type { Frame } from "./support/ws_client.ts";
import { TestClient } from "./support/ws_client.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "a snapshot sends the visible rows as op r, then synced, then live changes",
  opts,
  async () => {
    const stack = await startStack();
    const client = await TestClient.connect(stack.wsUrl, await stack.token(["a"]));
    try {
      await stack.db.sql(`INSERT INTO todos (bucket, title, done) VALUES
      ('a', 'a1', false), ('a', 'a2', true), ('b', 'b1', false), (NULL, 'shared', false)`);
      const sub = await client.subscribe("public.todos", {
        snapshot: true,
        where: { done: false },
      });
      assert.equal(sub.type, "subscribed");
      const rows = await client.changes(1);
      const synced = await client.next((f) => f.type === "synced", "synced");
      assert.equal(synced.sub, sub.sub);
      assert.equal(synced.cursor, sub.cursor);
      for (const f of rows) {
        envelopeSchema.parse(f.change);
        assert.equal(f.change.op, "r");
        assert.equal(f.change.source.snapshot, "true");
        assert.equal(f.change.before, null);
        assert.deepEqual(f.change.key, { id: f.change.after.id });
      }
      // Not b's row, not the row without a bucket (no one's), not the done one (the filter).
      assert.deepEqual(rows.map((f) => f.change.after.title), ["a1"]);
      await stack.db.sql("INSERT INTO todos (bucket, title) VALUES ('a', 'live')");
      const [live] = await client.changes(1);
      assert.deepEqual([live!.change.op, live!.change.after.title], ["c", "live"]);
      const bad = await client.subscribe("public.todos", { snapshot: true, since: sub.cursor });
      assert.equal(bad.code, "bad_request");
    } finally {
      await client.close();
      await stack.close();
    }
  },
);

Deno.test("writes during a snapshot are neither lost nor doubled", opts, async () => {
  const stack = await startStack();
  const client = await TestClient.connect(stack.wsUrl, await stack.token(["a"]));
  try {
    await stack.db.sql(`INSERT INTO todos (bucket, title, done)
      SELECT CASE WHEN g % 4 = 0 THEN 'b' ELSE 'a' END, 'row ' || g, false FROM generate_series(1, 20000) g`);
    const writes: Promise<unknown>[] = [];
    let writing = true;
    // Writers keep changing rows while the snapshot is read and sent.
    const writer = (async () => {
      let i = 0;
      while (writing) {
        i++;
        writes.push(stack.db.sql(
          `WITH picked AS (SELECT id FROM todos ORDER BY random() LIMIT 3)
           UPDATE todos SET done = NOT done, version = version + 1 WHERE id IN (SELECT id FROM picked)`,
        ));
        writes.push(
          stack.db.sql("INSERT INTO todos (bucket, title) VALUES ('a', $1)", [`new ${i}`]),
        );
        if (i % 3 === 0) {
          writes.push(
            stack.db.sql(
              "DELETE FROM todos WHERE id = (SELECT id FROM todos ORDER BY random() LIMIT 1)",
            ),
          );
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    await new Promise((r) => setTimeout(r, 20));
    client.send({ type: "subscribe", ref: "s", table: "public.todos", snapshot: true });
    await client.next((f) => f.type === "synced", "synced", 120_000);
    await new Promise((r) => setTimeout(r, 200));
    writing = false;
    await writer;
    await Promise.all(writes);

    // Once the stream is quiet, the client's picture must be the database's.
    const expected = await stack.db.sql<
      { id: string; title: string; done: boolean; version: number }
    >(
      "SELECT id, title, done, version FROM todos WHERE bucket = 'a' OR bucket IS NULL",
    );
    const state = new Map<string, Frame>();
    const ids = new Set<string>();
    const apply = (f: Frame) => {
      const e = f.change;
      assert.ok(!ids.has(e.id), `envelope ${e.id} delivered twice`);
      ids.add(e.id);
      const key = e.key.id as string;
      if (e.op === "r" || e.op === "c") {
        assert.ok(!state.has(key), `${e.op} for a row the client already has: a duplicate`);
        state.set(key, e.after);
      } else if (e.op === "u") state.set(key, e.after);
      else if (e.op === "d") state.delete(key);
    };
    const deadline = Date.now() + 60_000;
    const matches = () => {
      if (state.size !== expected.length) return false;
      return expected.every((r) => {
        const s = state.get(r.id);
        return s && s.title === r.title && s.done === r.done && s.version === r.version;
      });
    };
    for (;;) {
      for (const f of client.frames.splice(0).filter((f) => f.type === "change")) apply(f);
      if (matches()) break;
      if (Date.now() > deadline) {
        const missing = expected.filter((r) => !state.has(r.id)).length;
        assert.fail(
          `client state differs: ${state.size} rows vs ${expected.length}, ${missing} missing`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await client.close();
    await stack.close();
  }
});
