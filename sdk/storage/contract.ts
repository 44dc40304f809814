/**
 * The storage contract: what every adapter must do, as plain async checks that run in Deno
 * (sdk/storage/storage_test.ts) and in a real browser (tests/sdk_browser_test.ts) alike.
 */
import type { SyncStorage } from "./storage.ts";

export interface ContractTarget {
  /** A fresh, empty storage named `name`; the same name again reopens what was written. */
  open(name: string): SyncStorage;
  /** True when what was written survives close and reopen. */
  persistent: boolean;
}

export interface ContractCase {
  name: string;
  run(target: ContractTarget, name: string): Promise<void>;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`storage contract: ${what}`);
}

const json = (v: unknown) => JSON.stringify(v);

export const storageContract: ContractCase[] = [
  {
    name: "puts, deletes, prefixes and key order",
    async run(t, name) {
      const s = t.open(name);
      await s.write([
        { store: "rows", key: "b\u00011", value: { id: 1 } },
        { store: "rows", key: "a\u00012", value: { id: 2 } },
        { store: "rows", key: "a\u00011", value: { id: 1, t: "x" } },
        { store: "meta", key: "a", value: "meta" },
      ]);
      await s.write([{ store: "rows", key: "b\u00011" }]);
      const rows = await s.entries("rows");
      check(json(rows.map((e) => e[0])) === json(["a\u00011", "a\u00012"]), "key order, delete");
      check(json(rows[0]![1]) === json({ id: 1, t: "x" }), "values round-trip");
      check((await s.entries("rows", "a\u0001")).length === 2, "prefix");
      check((await s.entries("rows", "b\u0001")).length === 0, "prefix after delete");
      check(json(await s.entries("meta")) === json([["a", "meta"]]), "stores are separate");
      check((await s.entries("queue")).length === 0, "an empty store");
      await s.close();
    },
  },
  {
    name: "a write is all or nothing",
    async run(t, name) {
      const s = t.open(name);
      await s.write([{ store: "queue", key: "1", value: { n: 1 } }]);
      let failed = false;
      try {
        await s.write([
          { store: "queue", key: "2", value: { n: 2 } },
          { store: "queue", key: "3", value: { f: () => 1 } },
        ]);
      } catch {
        failed = true;
      }
      check(failed, "a value that cannot be stored fails the write");
      check(
        json((await s.entries("queue")).map((e) => e[0])) === json(["1"]),
        "nothing of it stays",
      );
      await s.write([{ store: "queue", key: "4", value: 4 }]);
      check((await s.entries("queue")).length === 2, "the storage still works after a failure");
      await s.close();
    },
  },
  {
    name: "values are copies",
    async run(t, name) {
      const s = t.open(name);
      const value = { list: [1] };
      await s.write([{ store: "meta", key: "k", value }]);
      value.list.push(2);
      const [[, read]] = await s.entries("meta") as [[string, { list: number[] }]];
      check(
        json(read) === json({ list: [1] }),
        "a later change to the written object is not stored",
      );
      read.list.push(3);
      const [[, again]] = await s.entries("meta") as [[string, unknown]];
      check(json(again) === json({ list: [1] }), "a change to a read object is not stored");
      await s.close();
    },
  },
  {
    name: "concurrent writes all land, in order",
    async run(t, name) {
      const s = t.open(name);
      await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          s.write([
            { store: "queue", key: String(i).padStart(4, "0"), value: i },
            { store: "meta", key: "last", value: i },
          ])),
      );
      check((await s.entries("queue")).length === 200, "every write");
      check(json(await s.entries("meta")) === json([["last", 199]]), "the last write wins");
      await s.close();
    },
  },
  {
    name: "what was written survives close and reopen",
    async run(t, name) {
      if (!t.persistent) return;
      const s = t.open(name);
      await s.write([
        { store: "queue", key: "1", value: { op: "insert" } },
        { store: "queue", key: "2", value: { op: "update" } },
      ]);
      await s.write([{ store: "queue", key: "1" }]);
      await s.close();
      const again = t.open(name);
      check(json(await again.entries("queue")) === json([["2", { op: "update" }]]), "reopened");
      await again.close();
    },
  },
];
