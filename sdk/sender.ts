/**
 * Sends queued writes to the REST API, one request at a time, in queue order. Acknowledged
 * writes are confirmed; a 409 rolls the row back to the server's and emits `conflict`; other
 * refusals (400, 403, …) roll back and emit `error`; network failures and 5xx keep the request
 * and retry it, unchanged, after a jittered back-off. A refused batch is split so the one bad
 * write answers alone and the others go through.
 */
import type { Tokens } from "./auth.ts";
import { AUTH_BACKOFF, backoffDelay, NETWORK_BACKOFF } from "./backoff.ts";
import type { Local } from "./local.ts";
import { type Outbox, planRequest, type QueuedWrite, type SentRequest } from "./outbox.ts";
import type { Persister } from "./persist.ts";
import { newId, versionOf } from "./rows.ts";
import type { StorageWrite } from "./storage/storage.ts";
import type { ErrorEvent, Row, SyncHubEvents } from "./types.ts";

export interface SenderDeps {
  url: string;
  fetch: typeof fetch;
  outbox: Outbox;
  local: Local;
  persister: Persister;
  tokens: Tokens;
  emit<K extends keyof SyncHubEvents>(name: K, value: SyncHubEvents[K]): void;
  /** The queue got shorter. */
  settled(): void;
}

type Outcome = "done" | "retry" | "auth";

interface ApiError {
  code?: string;
  message?: string;
  details?: { index?: unknown; current?: unknown };
}

export const queueKey = (seq: number) => String(seq).padStart(12, "0");
export const INFLIGHT_KEY = "inflight";

export class Sender {
  private running = false;
  private closed = false;
  private failures = 0;
  private wake: (() => void) | undefined;
  private authReported = false;

  constructor(private readonly deps: SenderDeps) {}

  /** Sends what is queued, if not already at it. */
  kick(): void {
    if (this.closed) return;
    if (!this.running) {
      this.running = true;
      this.loop().finally(() => (this.running = false));
    }
  }

  /** Retries at once, without waiting out the back-off. */
  now(): void {
    this.failures = 0;
    this.wake?.();
    this.kick();
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  private async loop(): Promise<void> {
    const { outbox, persister } = this.deps;
    while (!this.closed && outbox.size > 0) {
      const request = planRequest(outbox, newId);
      if (!request) break;
      if (request !== outbox.inflight) {
        outbox.nextBatchLimit = undefined;
        outbox.inflight = request;
        // Kept before it is sent: after a restart it is sent again as it was, never re-planned.
        await persister.commit([{ store: "meta", key: INFLIGHT_KEY, value: request }]);
      }
      const outcome = await this.send(request);
      if (outcome === "done") {
        this.failures = 0;
        continue;
      }
      const policy = outcome === "auth" ? AUTH_BACKOFF : NETWORK_BACKOFF;
      await this.pause(backoffDelay(policy, this.failures++));
    }
  }

  private async send(request: SentRequest, refreshed = false): Promise<Outcome> {
    let token: string;
    try {
      token = await this.deps.tokens.get();
    } catch (err) {
      this.reportAuth((err as Error).message);
      return "auth";
    }
    let res: Response;
    try {
      res = await this.deps.fetch(new URL(request.path, this.deps.url), {
        method: request.method,
        headers: {
          authorization: `Bearer ${token}`,
          "idempotency-key": request.id,
          ...(request.body === undefined ? {} : { "content-type": "application/json" }),
          ...(request.ifMatch === undefined ? {} : { "if-match": request.ifMatch }),
        },
        ...(request.body === undefined ? {} : { body: request.body }),
      });
    } catch {
      return "retry"; // offline, refused, reset: the same request goes again later
    }
    const body = await res.json().catch(() => undefined);
    if (res.status === 401) {
      const fresh = refreshed
        ? undefined
        : await this.deps.tokens.refresh(token).catch(() => undefined);
      if (fresh) return await this.send(request, true);
      this.reportAuth(errorOf(body).message ?? "the hub refused the token");
      return "auth";
    }
    this.authReported = false;
    if (res.status === 429) {
      const after = Number(res.headers.get("retry-after"));
      if (after > 0) await this.pause(Math.min(after * 1000, 60_000));
      return "retry";
    }
    if (res.status >= 500 || res.status === 408) return "retry";
    if (res.ok) await this.acknowledge(request, body);
    else await this.refused(request, res.status, errorOf(body));
    return "done";
  }

  private async acknowledge(request: SentRequest, body: unknown): Promise<void> {
    const results = request.batch
      ? ((body as { results?: { row?: Row }[] })?.results ?? []).map((r) => r.row ?? null)
      : [body as Row];
    const writes: StorageWrite[] = [];
    request.seqs.forEach((seq, i) => {
      const w = this.take(seq, writes);
      if (!w) return;
      const row = results[i] ?? null;
      for (const r of this.deps.outbox.rebase(w, versionOf(row))) {
        writes.push({ store: "queue", key: queueKey(r.seq), value: r });
      }
      writes.push(...this.deps.local.settle(w.table, w.rowKey, w.op === "delete" ? null : row));
    });
    await this.finish(writes);
  }

  private async refused(request: SentRequest, status: number, error: ApiError): Promise<void> {
    const { outbox } = this.deps;
    if (request.batch) {
      // All or nothing: nothing was written. The writes before the bad one go as a batch, the
      // bad one alone, to get its own answer.
      const index = error.details?.index;
      if (typeof index === "number" && index >= 0 && index < request.seqs.length) {
        if (index > 0) outbox.nextBatchLimit = index;
        outbox.alone.add(request.seqs[index]!);
      } else for (const seq of request.seqs) outbox.alone.add(seq);
      await this.finish([]);
      return;
    }
    const writes: StorageWrite[] = [];
    const w = this.take(request.seqs[0]!, writes);
    if (!w) return await this.finish(writes);
    const message = error.message ?? `HTTP ${status}`;
    if (status === 404 && w.op === "delete") {
      writes.push(...this.deps.local.settle(w.table, w.rowKey, null)); // already gone: done
    } else if (status === 409 || (status === 404 && w.op === "update")) {
      const current = status === 409 && isRow(error.details?.current)
        ? error.details!.current
        : null;
      writes.push(...this.deps.local.settle(w.table, w.rowKey, current));
      this.deps.emit("conflict", {
        table: w.table,
        op: w.op,
        key: w.key,
        local: w.values,
        server: current,
        message,
      });
    } else {
      this.deps.local.refresh(w.table, w.rowKey);
      const event: ErrorEvent = {
        code: error.code ?? `http_${status}`,
        message,
        status,
        table: w.table,
        op: w.op,
        key: w.key,
        rolledBack: true,
      };
      this.deps.emit("error", event);
    }
    await this.finish(writes);
  }

  /** Removes a write from the queue (and storage), or undefined when it is no longer there. */
  private take(seq: number, writes: StorageWrite[]): QueuedWrite | undefined {
    const w = this.deps.outbox.remove(seq);
    if (w) writes.push({ store: "queue", key: queueKey(seq) });
    return w;
  }

  private async finish(writes: StorageWrite[]): Promise<void> {
    this.deps.outbox.inflight = undefined;
    writes.push({ store: "meta", key: INFLIGHT_KEY });
    this.deps.settled();
    await this.deps.persister.commit(writes);
  }

  private reportAuth(message: string): void {
    if (this.authReported) return;
    this.authReported = true;
    this.deps.emit("error", { code: "unauthorized", message, status: 401, rolledBack: false });
  }

  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      this.wake = done;
      function done() {
        clearTimeout(timer);
        resolve();
      }
    }).then(() => (this.wake = undefined));
  }
}

function errorOf(body: unknown): ApiError {
  const e = (body as { error?: unknown })?.error;
  return typeof e === "object" && e !== null ? e as ApiError : {};
}

function isRow(v: unknown): v is Row {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
