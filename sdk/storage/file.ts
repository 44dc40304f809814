/**
 * Storage in a directory, for Deno: an append-only log of JSON lines (`synchub.log`), one line per
 * atomic write, synced to disk before the write resolves. Writes that arrive while one is being
 * synced go out together in the next (group commit). On open the log is replayed — a torn last
 * line, from a crash mid-write, is ignored — and rewritten compactly when mostly dead, through a
 * temporary file and a rename. One hub per directory at a time.
 */
import {
  prefixed,
  type StorageWrite,
  type StoreName,
  STORES,
  type SyncStorage,
} from "./storage.ts";

type Line = [StoreName, string, unknown?][];

export function fileStorage(dir: string): SyncStorage {
  if (typeof (globalThis as { Deno?: unknown }).Deno === "undefined") {
    throw new Error("fileStorage needs Deno; in a browser use indexedDbStorage(name)");
  }
  const path = `${dir.replace(/\/+$/, "")}/synchub.log`;
  const stores = new Map<StoreName, Map<string, unknown>>(STORES.map((s) => [s, new Map()]));
  let file: Deno.FsFile | undefined;
  let logBytes = 0;
  let queued: { line: Line; done: () => void; fail: (e: unknown) => void }[] = [];
  let flushing: Promise<void> | undefined;
  let closed = false;

  const opened = (async () => {
    await Deno.mkdir(dir, { recursive: true });
    let text = "";
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    for (const raw of text.split("\n")) {
      if (!raw) continue;
      let line: Line;
      try {
        line = JSON.parse(raw);
      } catch {
        break; // a torn write: it never resolved, so nothing after it counts either
      }
      apply(line);
    }
    await compact();
  })();

  function apply(line: Line): void {
    for (const [store, key, value] of line) {
      const map = stores.get(store);
      if (!map) continue;
      if (value === undefined) map.delete(key);
      else map.set(key, value);
    }
  }

  /** Rewrites the log as one line of live entries: written aside, synced, renamed over. */
  async function compact(): Promise<void> {
    file?.close();
    const live: Line = [];
    for (const [store, map] of stores) for (const [k, v] of map) live.push([store, k, v]);
    const text = live.length ? `${JSON.stringify(live)}\n` : "";
    const tmp = `${path}.tmp`;
    const f = await Deno.open(tmp, { write: true, create: true, truncate: true });
    try {
      await f.write(new TextEncoder().encode(text));
      await f.sync();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, path);
    logBytes = text.length;
    file = await Deno.open(path, { append: true });
  }

  async function flush(): Promise<void> {
    while (queued.length > 0) {
      const batch = queued;
      queued = [];
      try {
        const text = batch.map((q) => JSON.stringify(q.line)).join("\n") + "\n";
        const bytes = new TextEncoder().encode(text);
        let at = 0;
        while (at < bytes.length) at += await file!.write(bytes.subarray(at));
        await file!.syncData();
        logBytes += bytes.length;
        for (const q of batch) apply(q.line);
        for (const q of batch) q.done();
      } catch (err) {
        for (const q of batch) q.fail(err);
      }
      if (logBytes > 4 * 1024 * 1024 && logBytes > 4 * liveBytes()) await compact();
    }
    flushing = undefined;
  }

  function liveBytes(): number {
    let n = 0;
    for (const map of stores.values()) {
      for (const [k, v] of map) n += k.length + JSON.stringify(v).length + 8;
    }
    return n;
  }

  return {
    name: `file:${dir}`,
    async entries(store, prefix) {
      await opened;
      return prefixed(stores.get(store)!, prefix);
    },
    async write(writes: readonly StorageWrite[]) {
      await opened;
      if (closed) throw new Error("file storage is closed");
      // Through JSON now, so a value that cannot be stored fails here and alone.
      const line: Line = writes.map((w) =>
        w.value === undefined ? [w.store, w.key] : [w.store, w.key, asJson(w.value)]
      );
      await new Promise<void>((done, fail) => {
        queued.push({ line, done, fail });
        flushing ??= flush();
      });
    },
    async close() {
      await opened.catch(() => {});
      closed = true;
      await flushing;
      file?.close();
      file = undefined;
    },
  };
}

/** A copy of a value as JSON keeps it; what JSON would silently drop (functions) is refused. */
function asJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(structuredClone(value)));
}
