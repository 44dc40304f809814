/**
 * The WebSocket to the gateway (SPEC §4): subscribes every view, from its last cursor when it has
 * one (a snapshot otherwise, or when the cursor has expired); reconnects with a jittered back-off;
 * refreshes the token once when the socket is refused for it; answers `history` requests.
 */
import type { Tokens } from "./auth.ts";
import { AUTH_BACKOFF, backoffDelay, NETWORK_BACKOFF } from "./backoff.ts";
import { SyncHubError } from "./errors.ts";
import type { Local, View } from "./local.ts";
import type { Envelope, HistoryPage, Status, SyncHubEvents } from "./types.ts";

export interface ConnectionDeps {
  url: string;
  wsUrl: string;
  tokens: Tokens;
  local: Local;
  fetch: typeof fetch;
  WebSocket: typeof WebSocket;
  emit<K extends keyof SyncHubEvents>(name: K, value: SyncHubEvents[K]): void;
  status(status: Status): void;
  /** A message arrived while every view is live. */
  heard(): void;
}

type Pending =
  | { kind: "subscribe"; view: View }
  | { kind: "history"; resolve(page: HistoryPage): void; reject(err: Error): void };

type Frame = {
  type: string;
  ref?: string;
  sub?: string;
  cursor?: string;
  change?: Envelope;
  code?: string;
  message?: string;
  changes?: Envelope[];
  has_more?: boolean;
};

const HEARTBEAT_MS = 20_000;

export class Connection {
  private ws: WebSocket | undefined;
  private failures = 0;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  private seq = 0;
  private lastHeard = 0;
  private readonly pending = new Map<string, Pending>();
  private readonly subs = new Map<string, View>();
  private readonly waiting = new Set<() => void>();
  status: Status = "connecting";

  constructor(private readonly deps: ConnectionDeps) {}

  start(): void {
    void this.connect();
  }

  /** Reconnects at once when not connected (the network came back, or `flush()`). */
  now(): void {
    if (this.closed || this.ws) return;
    clearTimeout(this.retry);
    this.failures = 0;
    void this.connect();
  }

  /** Subscribes a view now if the socket is open (otherwise when it opens). */
  subscribe(view: View): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1 || !view.loaded) return;
    const ref = `s${++this.seq}`;
    this.pending.set(ref, { kind: "subscribe", view });
    const resume = view.synced && view.cursor !== undefined;
    if (!resume) view.snapshot = new Map();
    ws.send(JSON.stringify({
      type: "subscribe",
      ref,
      table: view.table,
      ...(view.where ? { where: view.where } : {}),
      ...(resume ? { since: view.cursor } : { snapshot: true }),
    }));
  }

  async history(
    table: string,
    since: string | undefined,
    limit: number | undefined,
    timeoutMs: number,
  ) {
    const deadline = Date.now() + timeoutMs;
    while (this.status !== "online") {
      if (this.closed) throw new SyncHubError("closed", "the hub is closed");
      const left = deadline - Date.now();
      if (left <= 0) throw new SyncHubError("offline", "not connected to the hub");
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, left);
        this.waiting.add(done);
        function done() {
          clearTimeout(t);
          resolve();
        }
      });
    }
    const ref = `h${++this.seq}`;
    return await new Promise<HistoryPage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new SyncHubError("timeout", "the hub did not answer the history request"));
      }, Math.max(1, deadline - Date.now()));
      this.pending.set(ref, {
        kind: "history",
        resolve: (page) => (clearTimeout(timer), resolve(page)),
        reject: (err) => (clearTimeout(timer), reject(err)),
      });
      this.ws!.send(JSON.stringify({
        type: "history",
        ref,
        table,
        ...(since === undefined ? {} : { since }),
        ...(limit === undefined ? {} : { limit }),
      }));
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.ws?.close(1000, "closed by the client");
    this.dropSocket();
    for (const wake of this.waiting) wake();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    this.setStatus("connecting");
    let token: string;
    try {
      token = await this.deps.tokens.get();
    } catch (err) {
      this.deps.emit("error", {
        code: "unauthorized",
        message: (err as Error).message,
        rolledBack: false,
      });
      return this.later(AUTH_BACKOFF);
    }
    if (this.closed) return;
    const url = `${this.deps.wsUrl}${this.deps.wsUrl.includes("?") ? "&" : "?"}token=${
      encodeURIComponent(token)
    }`;
    let ws: WebSocket;
    try {
      ws = new this.deps.WebSocket(url);
    } catch (err) {
      this.deps.emit("error", {
        code: "bad_url",
        message: (err as Error).message,
        rolledBack: false,
      });
      return this.later(AUTH_BACKOFF);
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.failures = 0;
      this.lastHeard = Date.now();
      this.setStatus("online");
      for (const view of this.deps.local.allViews()) this.subscribe(view);
      this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
    };
    ws.onmessage = (ev) => {
      this.lastHeard = Date.now();
      try {
        this.handle(JSON.parse(String(ev.data)) as Frame);
      } catch (err) {
        this.deps.emit("error", { code: "internal", message: String(err), rolledBack: false });
      }
    };
    ws.onerror = () => {}; // followed by close
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.dropSocket();
      if (this.closed) return;
      this.setStatus("offline");
      if (!opened || ev.code === 4001) void this.afterRefusal(token);
      else this.later(NETWORK_BACKOFF);
    };
  }

  /**
   * The socket closed before opening (a browser cannot tell a 401 from a network failure) or for
   * an expired token: ask the REST API whether the token is the problem; if so, refresh it once
   * and reconnect at once.
   */
  private async afterRefusal(token: string): Promise<void> {
    const res = await this.deps.fetch(new URL("/v1/auth/me", this.deps.url), {
      headers: { authorization: `Bearer ${token}` },
    }).catch(() => undefined);
    await res?.body?.cancel();
    if (res?.status !== 401) return this.later(NETWORK_BACKOFF);
    const fresh = await this.deps.tokens.refresh(token).catch(() => undefined);
    if (fresh) return void this.connect();
    this.deps.emit("error", {
      code: "unauthorized",
      message: "the hub refused the token and no fresh one could be had",
      status: 401,
      rolledBack: false,
    });
    this.later(AUTH_BACKOFF);
  }

  private handle(f: Frame): void {
    const { local } = this.deps;
    switch (f.type) {
      case "subscribed": {
        const p = this.pending.get(f.ref ?? "");
        if (p?.kind !== "subscribe" || !f.sub) return;
        this.pending.delete(f.ref!);
        this.subs.set(f.sub, p.view);
        return;
      }
      case "change": {
        const view = this.subs.get(f.sub ?? "");
        if (!view || !f.change) return;
        local.applyChange(view, f.change, view.snapshot ? undefined : f.cursor);
        if (!view.snapshot) this.heardIfLive();
        return;
      }
      case "synced": {
        const view = this.subs.get(f.sub ?? "");
        if (!view || f.cursor === undefined) return;
        local.finishSnapshot(view, f.cursor);
        this.heardIfLive();
        return;
      }
      case "history": {
        const p = this.pending.get(f.ref ?? "");
        if (p?.kind !== "history") return;
        this.pending.delete(f.ref!);
        p.resolve({
          changes: f.changes ?? [],
          cursor: f.cursor ?? "",
          has_more: f.has_more === true,
        });
        return;
      }
      case "error":
        return this.failed(f);
    }
  }

  private failed(f: Frame): void {
    const p = f.ref === undefined ? undefined : this.pending.get(f.ref);
    const code = f.code ?? "internal";
    const message = f.message ?? code;
    if (!p) {
      this.deps.emit("error", { code, message, rolledBack: false });
      return;
    }
    this.pending.delete(f.ref!);
    if (p.kind === "history") return p.reject(new SyncHubError(code, message));
    const view = p.view;
    view.snapshot = undefined;
    if (code === "cursor_expired") {
      // Too far behind to resume: a fresh snapshot, reconciled with the local rows.
      view.cursor = undefined;
      view.synced = false;
      return this.subscribe(view);
    }
    if (code === "internal" || code === "rate_limited") {
      setTimeout(() => this.subscribe(view), backoffDelay(NETWORK_BACKOFF, 2));
    }
    this.deps.emit("error", { code, message, table: view.table, rolledBack: false });
  }

  private heardIfLive(): void {
    for (const v of this.deps.local.allViews()) if (v.snapshot || !v.synced) return;
    this.deps.heard();
  }

  /** No message for two heartbeats: the connection is dead even if TCP has not noticed. */
  private beat(): void {
    if (Date.now() - this.lastHeard > 2 * HEARTBEAT_MS) {
      this.ws?.close(4000, "no answer to pings");
      return;
    }
    this.ws?.send(JSON.stringify({ type: "ping" }));
  }

  private dropSocket(): void {
    clearInterval(this.heartbeat);
    this.ws = undefined;
    this.subs.clear();
    for (const [ref, p] of this.pending) {
      if (p.kind === "history") p.reject(new SyncHubError("offline", "the connection was lost"));
      this.pending.delete(ref);
    }
    for (const v of this.deps.local.allViews()) v.snapshot = undefined;
  }

  private later(policy: typeof NETWORK_BACKOFF): void {
    if (this.closed) return;
    this.setStatus("offline");
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.connect(), backoffDelay(policy, this.failures++));
  }

  private setStatus(status: Status): void {
    if (status === this.status) return;
    this.status = status;
    if (status === "online") {
      for (const wake of this.waiting) wake();
      this.waiting.clear();
    }
    this.deps.status(status);
  }
}
