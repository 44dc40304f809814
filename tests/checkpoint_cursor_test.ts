/**
 * The cursor of a checkpoint and of bucket data (SPEC §10): a subscription from it continues with
 * no gap and no duplicate, on both buses. Writes go on while the snapshot is taken, and the
 * listener is held back first, so changes the snapshot already holds reach the bus after the
 * cursor's offsets — exactly the ones a subscription must skip.
 */
import assert from "node:assert/strict";
import pg from "pg";
import { sharedBrokers } from "./support/kafka.ts";
import { type Stack, startStack } from "./support/stack.ts";
import { waitFor } from "./support/wait.ts";
import { type Frame, TestClient } from "./support/ws_client.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** One writer, one transaction per write: inserts and updates titled `w<seq>`, in order. */
function writer(stack: Stack) {
  const pool = new pg.Pool({ connectionString: stack.db.url, max: 1 });
  let seq = 0;
  let stopped = false;
  const ids: string[] = [];
  const loop = (async () => {
    while (!stopped) {
      const title = `w${++seq}`;
      if (ids.length > 0 && seq % 3 === 0) {
        await pool.query("UPDATE todos SET title = $1 WHERE id = $2", [
          title,
          ids[seq % ids.length],
        ]);
      } else {
        const { rows } = await pool.query<{ id: string }>(
          "INSERT INTO todos (bucket, title) VALUES ($1, $2) RETURNING id",
          [seq % 7 === 0 ? "b" : "a", title],
        );
        if (seq % 7 !== 0) ids.push(rows[0]!.id);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  return {
    get seq() {
      return seq;
    },
    async stop() {
      stopped = true;
      await loop;
      await pool.end();
      return seq;
    },
  };
}

const seqOf = (title: string) => Number(title.slice(1));

/** NDJSON lines of a response. */
async function lines(res: Response): Promise<Frame[]> {
  assert.equal(res.status, 200);
  return (await res.text()).split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

/**
 * The snapshot's cut: writes up to K are in it, none after (a consistent snapshot of one
 * sequential writer). Checks the rows agree, and returns K.
 */
function cut(rows: { title: string }[]): number {
  const seqs = rows.map((r) => seqOf(r.title));
  return Math.max(0, ...seqs);
}

/** Subscribes from `cursor` and checks it receives exactly bucket a's writes after `k`. */
async function followsExactly(
  stack: Stack,
  cursor: string,
  k: number,
  last: number,
  expected: (seq: number) => boolean,
) {
  const client = await TestClient.connect(stack.wsUrl, await stack.token(["a"]));
  try {
    const sub = await client.subscribe("public.todos", { since: cursor });
    assert.equal(sub.type, "subscribed", JSON.stringify(sub));
    assert.match(sub.cursor, /^c2\./, "its cursors still say what the snapshot holds");
    const want: number[] = [];
    for (let s = k + 1; s <= last; s++) if (expected(s)) want.push(s);
    const got = await client.changes(want.length);
    assert.deepEqual(got.map((f) => seqOf(f.change.after.title)), want, "no gap, in order");
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(client.pendingChanges(), [], "no duplicate");
    // An intermediate cursor resumes exactly too.
    const again = await TestClient.connect(stack.wsUrl, await stack.token(["a"]));
    try {
      const mid = Math.floor(got.length / 2);
      await again.subscribe("public.todos", { since: got[mid]!.cursor });
      const rest = await again.changes(want.length - mid - 1);
      assert.deepEqual(rest.map((f) => seqOf(f.change.after.title)), want.slice(mid + 1));
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(again.pendingChanges(), []);
    } finally {
      await again.close();
    }
  } finally {
    await client.close();
  }
}

/** Which writes go to bucket a: inserts into a, and updates (always of a's rows). */
const inBucketA = (seq: number) => seq % 3 === 0 || seq % 7 !== 0;

async function scenario(stack: Stack) {
  const admin = await stack.token(["a"]);
  const call = (path: string, init: RequestInit = {}) =>
    fetch(`${stack.crud.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    });
  const w = writer(stack);
  await waitFor(() => w.seq >= 20, "some writes");
  // Held back: what is written now is committed but not on the bus.
  await stack.stopListener();
  await waitFor(() => w.seq >= 60, "writes the bus has not seen");
  const created = await (await call("/v1/checkpoints", {
    method: "POST",
    body: JSON.stringify({ bucket: "a", tables: ["todos"] }),
  })).json();
  assert.equal(created.status, "pending", JSON.stringify(created));
  const data = await lines(await call("/v1/buckets/a/data"));
  stack.startListener();
  const checkpoint = await waitFor(async () => {
    const c = await (await call(`/v1/checkpoints/${created.id}`)).json();
    assert.notEqual(c.status, "failed", c.error);
    return c.status === "ready" ? c : undefined;
  }, "the checkpoint");
  await waitFor(() => w.seq >= 150, "more writes after the snapshots");
  const last = await w.stop();

  const file = await lines(await call(`/v1/checkpoints/${checkpoint.id}/download`));
  assert.equal(file[0]!.cursor, checkpoint.cursor);
  const k = cut(file.slice(1).map((l) => l.row));
  assert.ok(k >= 60 && k < last, `the checkpoint's cut ${k} is inside the writes`);
  await followsExactly(stack, checkpoint.cursor, k, last, inBucketA);

  const rows = data.slice(0, -1).map((l) => l.row);
  const dataCut = cut(rows);
  assert.ok(
    dataCut >= 60 && dataCut < last,
    `the bucket data's cut ${dataCut} is inside the writes`,
  );
  await followsExactly(stack, data.at(-1)!.cursor, dataCut, last, inBucketA);
}

Deno.test(
  "checkpoint and bucket-data cursors: no gap, no duplicate (in-process bus)",
  opts,
  async () => {
    const stack = await startStack();
    try {
      await scenario(stack);
    } finally {
      await stack.close();
    }
  },
);

Deno.test("checkpoint and bucket-data cursors: no gap, no duplicate (Kafka)", opts, async () => {
  const stack = await startStack({ kafka: await sharedBrokers() });
  try {
    await scenario(stack);
  } finally {
    await stack.close();
  }
});
