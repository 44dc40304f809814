/**
 * The behaviour every source adapter must show, run against real servers: ops, keys, `changed`,
 * order within a transaction, restart without loss, bad configuration. A new adapter is done
 * when this suite is green for it.
 */
import assert from "node:assert/strict";
import { type Envelope, envelopeSchema } from "../../lib/envelope.ts";
import type { Source, SourceBatch } from "../../services/listener/source.ts";
import { waitFor } from "./wait.ts";

export type Item = { id: number; bucket: string | null; title: string; n: number };
export type Op =
  | { op: "insert"; row: Item }
  | { op: "update"; id: number; set: Partial<Omit<Item, "id">> }
  | { op: "delete"; id: number };

export interface SourceFixture {
  /** How envelopes name the table: `source.db`, `source.schema`, `source.table`. */
  readonly table: { db: string; schema: string | null; name: string };
  readonly connector: Envelope["source"]["connector"];
  /** A new source instance for the same source name and stored position (a restarted process). */
  makeSource(): Source;
  /** Runs the operations in one transaction. */
  transaction(ops: Op[]): Promise<void>;
  /** Sources that must refuse to start, and what their error must say. */
  badSources(): Promise<{ what: string; source: Source; error: RegExp }[]>;
  teardown(): Promise<void>;
}

export interface SourceHarness {
  readonly name: string;
  /** Its server is not here: the tests are registered as ignored. */
  readonly ignore?: boolean;
  /** A fresh, empty `items (id int primary key, bucket text, title text, n int)`. */
  setup(): Promise<SourceFixture>;
}

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Streams a source; envelopes are checked against the schema; confirming can be switched off. */
export async function run(source: Source) {
  const ac = new AbortController();
  const batches: SourceBatch[] = [];
  const state = { confirm: true, failed: undefined as unknown };
  const running = (async () => {
    for await (const b of source.stream(ac.signal)) {
      for (const e of b.envelopes) envelopeSchema.parse(e);
      batches.push(b);
      if (state.confirm && b.checkpoint !== null) await source.confirm(b.checkpoint);
    }
  })().catch((err) => state.failed = err);
  await waitFor(() => source.ready() || state.failed !== undefined, "the source to stream", 60_000);
  if (state.failed) throw state.failed;
  const envelopes = () => batches.flatMap((b) => b.envelopes).filter((e) => e.op !== "r");
  return {
    state,
    envelopes,
    wait: (n: number) =>
      waitFor(() => {
        if (state.failed) throw state.failed;
        return envelopes().length >= n ? envelopes() : undefined;
      }, `${n} envelopes`),
    stop: async () => {
      ac.abort();
      await running;
    },
  };
}

const item = (id: number, extra: Partial<Item> = {}): Item => ({
  id,
  bucket: "a",
  title: `t${id}`,
  n: 0,
  ...extra,
});

export function sourceContract(harness: SourceHarness) {
  const test = (name: string, fn: (f: SourceFixture) => Promise<void>) =>
    Deno.test(`${harness.name} source: ${name}`, {
      ...opts,
      ignore: harness.ignore ?? false,
    }, async () => {
      const f = await harness.setup();
      try {
        await fn(f);
      } finally {
        await f.teardown();
      }
    });

  test("insert, update and delete become envelopes with key, before, after and changed", async (f) => {
    const r = await run(f.makeSource());
    try {
      await f.transaction([{ op: "insert", row: item(1, { bucket: "b1" }) }]);
      await f.transaction([{ op: "update", id: 1, set: { n: 5 } }]);
      await f.transaction([{ op: "delete", id: 1 }]);
      const [c, u, d] = await r.wait(3);
      assert.deepEqual([c!.op, u!.op, d!.op], ["c", "u", "d"]);
      for (const e of [c!, u!, d!]) {
        assert.deepEqual(Object.keys(e.key), [Object.keys(e.key)[0]], "one key column");
        assert.equal(String(Object.values(e.key)[0]), "1");
        assert.equal(e.source.connector, f.connector);
        assert.deepEqual([e.source.db, e.source.schema, e.source.table], [
          f.table.db,
          f.table.schema,
          f.table.name,
        ]);
        assert.equal(e.bucket, "b1");
      }
      assert.equal(c!.before, null);
      assert.equal(c!.after!.title, "t1");
      assert.equal(u!.after!.n, 5);
      assert.deepEqual(u!.changed, ["n"]);
      assert.equal(d!.after, null);
      assert.equal(d!.before!.title, "t1");
      const positions = [c!, u!, d!].map((e) => e.source.position);
      assert.deepEqual([...positions].sort(), positions, "positions sort in commit order");
      assert.equal(new Set([c!.id, u!.id, d!.id]).size, 3);
    } finally {
      await r.stop();
    }
  });

  test("a transaction's changes keep their order and share one transaction id", async (f) => {
    const r = await run(f.makeSource());
    try {
      await f.transaction([
        { op: "insert", row: item(1) },
        { op: "insert", row: item(2) },
        { op: "update", id: 1, set: { title: "first" } },
        { op: "delete", id: 2 },
      ]);
      const envs = await r.wait(4);
      assert.deepEqual(envs.map((e) => `${e.op}${String(Object.values(e.key)[0])}`), [
        "c1",
        "c2",
        "u1",
        "d2",
      ]);
      const txIds = new Set(envs.map((e) => e.transaction?.id ?? e.source.txId));
      assert.equal(txIds.size, 1, "one transaction");
      assert.deepEqual(envs.map((e) => e.transaction?.total_order), [1, 2, 3, 4]);
      const positions = envs.map((e) => e.source.position);
      assert.deepEqual([...positions].sort(), positions);
    } finally {
      await r.stop();
    }
  });

  test("restart without loss: what was not confirmed comes again, with the same ids", async (f) => {
    const first = await run(f.makeSource());
    await f.transaction([{ op: "insert", row: item(1) }]);
    await first.wait(1); // confirmed: the source is established
    first.state.confirm = false;
    await f.transaction([{ op: "insert", row: item(2) }, { op: "insert", row: item(3) }]);
    const seen = (await first.wait(3)).slice(1);
    await first.stop();
    await f.transaction([{ op: "update", id: 2, set: { n: 9 } }]);

    const second = await run(f.makeSource());
    try {
      const got = await second.wait(3);
      assert.deepEqual(
        got.slice(0, 2).map((e) => e.id),
        seen.map((e) => e.id),
        "redelivered as the same changes",
      );
      assert.equal(got[2]!.op, "u");
      assert.ok(!got.some((e) => e.after?.title === "t1"), "a confirmed change came again");
    } finally {
      await second.stop();
    }
  });

  test("bad configuration is refused with a clear error", async (f) => {
    for (const { what, source, error } of await f.badSources()) {
      await assert.rejects(
        async () => {
          for await (const _ of source.stream(new AbortController().signal)) { /* none */ }
        },
        (e: Error) => {
          assert.match(e.message, error, `${what}: ${e.message}`);
          return true;
        },
        what,
      );
    }
  });
}
