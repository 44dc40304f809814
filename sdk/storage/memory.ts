/** Storage held in memory: gone with the process. For tests, and apps that need no offline state. */
import {
  prefixed,
  type StorageWrite,
  type StoreName,
  STORES,
  type SyncStorage,
} from "./storage.ts";

export function memoryStorage(): SyncStorage {
  const stores = new Map<StoreName, Map<string, unknown>>(STORES.map((s) => [s, new Map()]));
  let closed = false;
  const open = () => {
    if (closed) throw new Error("memory storage is closed");
  };
  return {
    name: "memory",
    entries(store, prefix) {
      open();
      return Promise.resolve(prefixed(stores.get(store)!, prefix));
    },
    write(writes: readonly StorageWrite[]) {
      open();
      // Cloned first, so a value that cannot be stored fails the whole write, not half of it.
      const copies = writes.map((w) =>
        w.value === undefined ? undefined : structuredClone(w.value)
      );
      writes.forEach((w, i) => {
        const store = stores.get(w.store)!;
        if (copies[i] === undefined) store.delete(w.key);
        else store.set(w.key, copies[i]);
      });
      return Promise.resolve();
    },
    close() {
      closed = true;
      return Promise.resolve();
    },
  };
}
