/**
 * The client: local tables kept in sync with the hub, writable offline (SPEC §9).
 *
 *   const hub = new SyncHub({ url, wsUrl, token, storage: indexedDbStorage("app") });
 *   const todos = hub.table("public.todos", { where: { done: false } });
 *   todos.subscribe((rows) => render(rows));
 *   await todos.insert({ title: "milk" });
 */
import { Tokens, type TokenSource } from "./auth.ts";
import { Connection } from "./connection.ts";
import { Emitter } from "./emitter.ts";
import { SyncHubError } from "./errors.ts";
import { Local, type Subscriber, View } from "./local.ts";
import { Outbox, type QueuedWrite, type SentRequest } from "./outbox.ts";
import { Persister } from "./persist.ts";
import { idSegment, keyOf, newId, rowKey, versionOf } from "./rows.ts";
import { INFLIGHT_KEY, queueKey, Sender } from "./sender.ts";
import type { SyncStorage } from "./storage/storage.ts";
import type {
  HistoryPage,
  JsonValue,
  Row,
  Status,
  SubscriptionInfo,
  SyncHubEvents,
  TableOptions,
  Where,
  WriteOp,
} from "./types.ts";

export interface SyncHubOptions {
  /** The REST API, e.g. `http://localhost:8000`. */
  url: string;
  /** The gateway's WebSocket; default: the REST host on port 8080, path `/v1/ws`. */
  wsUrl?: string;
  /** A token, a function returning one, or a provider that can refresh it (`authSession`). */
  token: TokenSource;
  storage: SyncStorage;
  /** For tests and unusual platforms; default: the global ones. */
  fetch?: typeof fetch;
  WebSocket?: typeof WebSocket;
}

const LAST_SYNCED_KEY = "last_synced_at";

export class SyncHub {
  private readonly emitter = new Emitter<SyncHubEvents>();
  private readonly outbox = new Outbox();
  private readonly persister: Persister;
  private readonly local: Local;
  private readonly sender: Sender;
  private readonly connection: Connection;
  private readonly tables = new Map<string, Table>();
  private readonly ready: Promise<void>;
  private readonly flushWaiters = new Set<{ seqs: Set<number>; done: () => void }>();
  private readonly storage: SyncStorage;
  private lastSynced: number | null = null;
  private lastPending = 0;
  private closed = false;
  private readonly onOnline = () => this.flushNow();

  constructor(options: SyncHubOptions) {
    this.storage = options.storage;
    const fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
    const emit = <K extends keyof SyncHubEvents>(name: K, value: SyncHubEvents[K]) =>
      this.emitter.emit(name, value);
    const tokens = new Tokens(options.token);
    this.persister = new Persister(
      this.storage,
      (err) => emit("error", { code: "storage", message: String(err), rolledBack: false }),
    );
    this.local = new Local(this.outbox, this.persister, this.storage);
    this.sender = new Sender({
      url: options.url,
      fetch: fetchFn,
      outbox: this.outbox,
      local: this.local,
      persister: this.persister,
      tokens,
      emit,
      settled: () => this.settled(),
    });
    this.connection = new Connection({
      url: options.url,
      wsUrl: options.wsUrl ?? defaultWsUrl(options.url),
      tokens,
      local: this.local,
      fetch: fetchFn,
      WebSocket: options.WebSocket ?? globalThis.WebSocket,
      emit,
      status: (s) => {
        emit("status", s);
        if (s === "online") this.sender.now();
      },
      heard: () => this.heard(),
    });
    this.ready = this.load();
    this.ready.then(() => {
      if (this.closed) return;
      this.connection.start();
      this.sender.kick();
    }, (err) => emit("error", { code: "storage", message: String(err), rolledBack: false }));
    globalThis.addEventListener?.("online", this.onOnline);
  }

  get status(): Status {
    return this.connection.status;
  }

  on<K extends keyof SyncHubEvents>(
    name: K,
    listener: (value: SyncHubEvents[K]) => void,
  ): () => void {
    return this.emitter.on(name, listener);
  }

  /** A table of the hub (`schema.table`), optionally narrowed by `where`; the same handle per pair. */
  table(name: string, options: TableOptions = {}): Table {
    const scope = `${name}|${stableJson(options.where ?? {})}`;
    let table = this.tables.get(scope);
    if (!table) {
      const key = typeof options.key === "string" ? [options.key] : options.key ?? ["id"];
      const view = new View(scope, name, options.where, key);
      table = new Table(this, view);
      this.tables.set(scope, table);
      this.ready
        .then(() => this.local.open(view))
        .then(() => this.connection.subscribe(view))
        .catch((err) =>
          this.emitter.emit("error", { code: "storage", message: String(err), rolledBack: false })
        );
    }
    return table;
  }

  /** Writes not yet acknowledged by the hub, the one in flight included. */
  pendingCount(): number {
    return this.outbox.size;
  }

  /** When the hub last confirmed that this client had everything (null: never). */
  lastSyncedAt(): Date | null {
    return this.lastSynced === null ? null : new Date(this.lastSynced);
  }

  /** Retries at once; resolves when every write queued now is acknowledged or rolled back. */
  async flush(): Promise<void> {
    await this.ready;
    const seqs = new Set(this.outbox.all().map((w) => w.seq));
    const done = new Promise<void>((resolve) => {
      const waiter = { seqs, done: resolve };
      this.flushWaiters.add(waiter);
      this.settled();
    });
    this.flushNow();
    await done;
  }

  /** A page of the table's retained changes, filtered for this token (SPEC §9). */
  async history(
    table: string,
    options: { since?: string; limit?: number; timeoutMs?: number } = {},
  ): Promise<HistoryPage> {
    if (this.closed) throw new SyncHubError("closed", "the hub is closed");
    return await this.connection.history(
      table,
      options.since,
      options.limit,
      options.timeoutMs ?? 15_000,
    );
  }

  /** Disconnects and writes out what is pending in memory; the queue stays in storage. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    globalThis.removeEventListener?.("online", this.onOnline);
    this.connection.close();
    this.sender.close();
    await this.ready.catch(() => {});
    await this.persister.drain();
    for (const w of this.flushWaiters) w.done();
    this.emitter.clear();
    await this.storage.close();
  }

  // ---- used by Table ----

  /** @internal */
  async write(
    view: View,
    op: WriteOp,
    row: Row | null,
    id?: JsonValue | Row | undefined,
  ): Promise<Row | null> {
    if (this.closed) throw new SyncHubError("closed", "the hub is closed");
    await this.ready;
    const columns = view.keyColumns;
    let key: Row;
    let values: Row | null;
    if (op === "insert") {
      if (!isObject(row)) throw new SyncHubError("bad_request", "insert takes a row object");
      values = { ...row };
      // An offline-first row needs its key now: a single key column without one gets a UUID.
      if (columns.length === 1 && values[columns[0]!] == null) values[columns[0]!] = newId();
      const missing = columns.filter((c) => values![c] == null);
      if (missing.length) {
        throw new SyncHubError("bad_request", `the row needs key column "${missing[0]}"`);
      }
      key = keyOf(columns, values);
    } else {
      key = isObject(id) ? keyOf(columns, id) : { [columns[0]!]: id ?? null };
      if (columns.some((c) => key[c] == null)) {
        throw new SyncHubError("bad_request", `a row is named by ${columns.join(", ")}`);
      }
      if (op === "update" && !isObject(row)) {
        throw new SyncHubError("bad_request", "update takes an object of changes");
      }
      values = op === "update" ? { ...row } : null;
    }
    const rk = rowKey(columns, key);
    const current = this.local.current(view.table, rk);
    const explicit = op === "update" ? versionOf(values) : undefined;
    const base = explicit ?? (op === "insert" ? undefined : versionOf(current));
    const write: QueuedWrite = {
      seq: this.outbox.nextSeq++,
      id: newId(),
      table: view.table,
      op,
      key,
      rowKey: rk,
      rowId: decodeURIComponent(idSegment(columns, key)),
      values,
      ...(base === undefined ? {} : { base }),
      at: Date.now(),
    };
    // Shown at once; kept in storage before the promise resolves.
    this.outbox.add(write);
    this.local.refresh(view.table, rk);
    this.local.touchTable(view.table);
    this.pendingChanged();
    try {
      await this.persister.commit([{ store: "queue", key: queueKey(write.seq), value: write }]);
    } catch (err) {
      this.outbox.remove(write.seq);
      this.local.refresh(view.table, rk);
      this.pendingChanged();
      throw new SyncHubError("storage", `the write could not be stored: ${String(err)}`);
    }
    this.sender.kick();
    return op === "delete"
      ? null
      : (view.rows.get(rk) ?? this.local.current(view.table, rk) ?? values);
  }

  /** @internal */
  listen(view: View, fn: Subscriber): () => void {
    view.subscribers.add(fn);
    if (view.loaded) this.local.notify(view, fn);
    return () => view.subscribers.delete(fn);
  }

  /** @internal */
  info(view: View): SubscriptionInfo {
    return { synced: view.synced, pending: this.outbox.forTable(view.table) };
  }

  private async load(): Promise<void> {
    const [queue, meta] = await Promise.all([
      this.storage.entries("queue"),
      this.storage.entries("meta"),
    ]);
    this.outbox.load(queue.map(([, w]) => w as QueuedWrite));
    const inflight = meta.find(([k]) => k === INFLIGHT_KEY)?.[1] as SentRequest | undefined;
    // Only if it still heads the queue: otherwise it was answered before the restart.
    if (inflight && inflight.seqs.every((s) => this.outbox.has(s))) this.outbox.inflight = inflight;
    const last = meta.find(([k]) => k === LAST_SYNCED_KEY)?.[1];
    this.lastSynced = typeof last === "number" ? last : null;
    this.pendingChanged();
  }

  private flushNow(): void {
    this.connection.now();
    this.sender.now();
  }

  private settled(): void {
    this.pendingChanged();
    for (const w of this.flushWaiters) {
      for (const seq of w.seqs) if (!this.outbox.has(seq)) w.seqs.delete(seq);
      if (w.seqs.size === 0) {
        this.flushWaiters.delete(w);
        w.done();
      }
    }
    if (this.outbox.size === 0 && this.connection.status === "online") this.heard();
    for (const t of new Set(this.outbox.all().map((w) => w.table))) this.local.touchTable(t);
  }

  private pendingChanged(): void {
    const n = this.outbox.size;
    if (n === this.lastPending) return;
    this.lastPending = n;
    this.emitter.emit("pending", n);
  }

  private heard(): void {
    if (this.outbox.size > 0) return;
    this.lastSynced = Date.now();
    this.persister.stage([{ store: "meta", key: LAST_SYNCED_KEY, value: this.lastSynced }]);
  }
}

/** One table (and `where`) of a hub: its rows, live, and writes to it. */
export class Table {
  /** @internal */
  constructor(private readonly hub: SyncHub, private readonly view: View) {}

  get name(): string {
    return this.view.table;
  }

  /** The rows now, local writes included (in no particular order). */
  rows(): Row[] {
    return [...this.view.rows.values()];
  }

  /**
   * Calls `fn` with the rows now and after every change — the hub's or a local write's — until the
   * returned function is called. Rows are frozen; calls are batched per tick.
   */
  subscribe(fn: (rows: Row[], info: SubscriptionInfo) => void): () => void {
    return this.hub.listen(this.view, fn);
  }

  /** Adds a row; resolves with it as applied locally (with its generated key) once it is queued. */
  async insert(row: Row): Promise<Row> {
    return (await this.hub.write(this.view, "insert", row))!;
  }

  /** Changes some columns of the row with key `id` (or key object, for composite keys). */
  async update(id: JsonValue | Row | undefined, changes: Row): Promise<Row | null> {
    return await this.hub.write(this.view, "update", changes, id);
  }

  async delete(id: JsonValue | Row | undefined): Promise<void> {
    await this.hub.write(this.view, "delete", null, id);
  }
}

function isObject(v: unknown): v is Row {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** JSON with object keys sorted, so equal `where`s name the same view. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (isObject(v)) {
    return `{${
      Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`).join(",")
    }}`;
  }
  return JSON.stringify(v);
}

function defaultWsUrl(url: string): string {
  const u = new URL(url);
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  u.port = "8080";
  u.pathname = "/v1/ws";
  return u.toString().replace(/\/$/, "");
}

export type { Where };
