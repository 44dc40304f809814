/**
 * Storage in the browser's IndexedDB: database `synchub:<name>` with one object store per store;
 * a write is one readwrite transaction (atomic), resolved when it commits. The database is opened
 * on first use, so the factory itself is synchronous.
 */
import type { StorageWrite, StoreName, SyncStorage } from "./storage.ts";
import { STORES } from "./storage.ts";

// The few IndexedDB types used, declared here: Deno's own libraries do not have them, and the
// DOM library would clash with Deno's in the rest of the project.
interface IdbRequest<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null;
  onblocked: (() => void) | null;
}
interface IdbObjectStore {
  getAllKeys(range?: unknown): IdbRequest<unknown[]>;
  getAll(range?: unknown): IdbRequest<unknown[]>;
  put(value: unknown, key: string): unknown;
  delete(key: string): unknown;
}
interface IdbTransaction {
  objectStore(name: string): IdbObjectStore;
  abort(): void;
  error: unknown;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}
interface IdbDatabase {
  objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string): unknown;
  transaction(
    stores: string | string[],
    mode: string,
    options?: { durability: string },
  ): IdbTransaction;
  close(): void;
}
interface IdbGlobals {
  indexedDB?: { open(name: string, version: number): IdbOpenRequest };
  IDBKeyRange?: { bound(lower: string, upper: string): unknown };
}

export function indexedDbStorage(name: string): SyncStorage {
  const g = globalThis as IdbGlobals;
  let db: Promise<IdbDatabase> | undefined;
  const open = (): Promise<IdbDatabase> =>
    db ??= new Promise((resolve, reject) => {
      const indexedDB = g.indexedDB;
      if (!indexedDB) {
        reject(new Error("indexedDbStorage needs IndexedDB (a browser); in Deno use fileStorage"));
        return;
      }
      const req = indexedDB.open(`synchub:${name}`, 1);
      req.onupgradeneeded = () => {
        for (const s of STORES) {
          if (!req.result.objectStoreNames.contains(s)) req.result.createObjectStore(s);
        }
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
      req.onblocked = () =>
        reject(new Error(`IndexedDB synchub:${name} is blocked by another tab`));
    });

  return {
    name: `indexeddb:${name}`,
    async entries(store: StoreName, prefix = "") {
      const tx = (await open()).transaction(store, "readonly");
      const range = prefix ? g.IDBKeyRange!.bound(prefix, `${prefix}\uffff`) : undefined;
      const os = tx.objectStore(store);
      const [keys, values] = await Promise.all([
        request(os.getAllKeys(range)),
        request(os.getAll(range)),
      ]);
      return keys.map((k, i) => [String(k), values[i]] as [string, unknown]);
    },
    async write(writes: readonly StorageWrite[]) {
      if (writes.length === 0) return;
      const stores = [...new Set(writes.map((w) => w.store))];
      const tx = (await open()).transaction(stores, "readwrite", { durability: "strict" });
      const done = new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
      });
      try {
        for (const w of writes) {
          const os = tx.objectStore(w.store);
          if (w.value === undefined) os.delete(w.key);
          else os.put(w.value, w.key);
        }
      } catch (err) {
        tx.abort(); // a value that cannot be stored: none of the write happens
        await done.catch(() => {});
        throw err;
      }
      await done;
    },
    async close() {
      if (db) (await db.catch(() => undefined))?.close();
      db = undefined;
    },
  };
}

function request<T>(req: IdbRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}
