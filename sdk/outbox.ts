/**
 * The queue of local writes not yet acknowledged, in the order they were made, and the requests
 * that carry them. A request, once sent, is retried exactly as it was (same Idempotency-Key, same
 * body) until the server answers it, so a write whose answer was lost is applied once.
 */
import type { Row, WriteOp } from "./types.ts";

export interface QueuedWrite {
  seq: number;
  /** The Idempotency-Key of the write when sent alone. */
  id: string;
  table: string;
  op: WriteOp;
  key: Row;
  rowKey: string;
  /** The key as the REST API's `:id` (not URL-encoded). */
  rowId: string;
  /** Insert: the whole row; update: the changed columns; delete: null. */
  values: Row | null;
  /** The row version the write was made on; sent as If-Match. */
  base?: number;
  at: number;
}

/** A request as sent, kept until answered. */
export interface SentRequest {
  id: string;
  seqs: number[];
  table: string;
  method: "POST" | "PATCH" | "DELETE";
  path: string;
  ifMatch?: string;
  body?: string;
  batch: boolean;
}

export interface PlanLimits {
  maxOps: number;
  maxBytes: number;
}

export const DEFAULT_LIMITS: PlanLimits = { maxOps: 1000, maxBytes: 512 * 1024 };

export class Outbox {
  private writes: QueuedWrite[] = [];
  private readonly byRow = new Map<string, QueuedWrite[]>();
  nextSeq = 1;
  /** The request sent and not yet answered. */
  inflight: SentRequest | undefined;
  /** Writes to send alone: a batch holding them was refused, and they must answer for themselves. */
  readonly alone = new Set<number>();
  /** At most this many writes in the next batch: those before a refused one. */
  nextBatchLimit: number | undefined;

  get size(): number {
    return this.writes.length;
  }

  all(): readonly QueuedWrite[] {
    return this.writes;
  }

  has(seq: number): boolean {
    return this.writes.some((w) => w.seq === seq);
  }

  load(writes: QueuedWrite[]): void {
    for (const w of writes.sort((a, b) => a.seq - b.seq)) this.add(w);
  }

  add(w: QueuedWrite): void {
    this.writes.push(w);
    this.nextSeq = Math.max(this.nextSeq, w.seq + 1);
    const id = rowId(w.table, w.rowKey);
    const list = this.byRow.get(id);
    if (list) list.push(w);
    else this.byRow.set(id, [w]);
  }

  remove(seq: number): QueuedWrite | undefined {
    const i = this.writes.findIndex((w) => w.seq === seq);
    if (i < 0) return undefined;
    const [w] = this.writes.splice(i, 1);
    const id = rowId(w!.table, w!.rowKey);
    const list = this.byRow.get(id)?.filter((x) => x.seq !== seq) ?? [];
    if (list.length) this.byRow.set(id, list);
    else this.byRow.delete(id);
    this.alone.delete(seq);
    return w;
  }

  forRow(table: string, rowKey: string): readonly QueuedWrite[] {
    return this.byRow.get(rowId(table, rowKey)) ?? [];
  }

  forTable(table: string): number {
    let n = 0;
    for (const w of this.writes) if (w.table === table) n++;
    return n;
  }

  /**
   * After a write to a row is acknowledged at `version`, the later writes to that row — made on
   * top of it — expect that version. Returns the writes whose base changed.
   */
  rebase(acked: QueuedWrite, version: number | undefined): QueuedWrite[] {
    if (version === undefined) return [];
    const changed: QueuedWrite[] = [];
    for (const w of this.forRow(acked.table, acked.rowKey)) {
      if (w.seq <= acked.seq || w.op === "insert") continue;
      if (w.base === undefined || w.base < version) {
        w.base = version;
        changed.push(w);
      }
    }
    return changed;
  }
}

function rowId(table: string, rowKey: string): string {
  return `${table}\n${rowKey}`;
}

/**
 * The next request: the one in flight if any (unchanged), else the writes at the head of the
 * queue — alone, or as one batch of consecutive writes to one table when there are several.
 */
export function planRequest(
  outbox: Outbox,
  newId: () => string,
  limits: PlanLimits = DEFAULT_LIMITS,
): SentRequest | undefined {
  const writes = outbox.all();
  const head = writes[0];
  if (!head) return undefined;
  const inflight = outbox.inflight;
  if (inflight && inflight.seqs[0] === head.seq) return inflight;
  const picked: QueuedWrite[] = [head];
  if (!outbox.alone.has(head.seq)) {
    const max = Math.min(limits.maxOps, outbox.nextBatchLimit ?? limits.maxOps);
    let bytes = JSON.stringify(head.values).length;
    for (let i = 1; i < writes.length && picked.length < max; i++) {
      const w = writes[i]!;
      if (w.table !== head.table || outbox.alone.has(w.seq)) break;
      bytes += JSON.stringify(w.values).length + 60;
      if (bytes > limits.maxBytes) break;
      picked.push(w);
    }
  }
  return picked.length === 1 ? single(head) : batch(picked, newId());
}

function single(w: QueuedWrite): SentRequest {
  const table = encodeURIComponent(w.table);
  const base = {
    id: w.id,
    seqs: [w.seq],
    table: w.table,
    batch: false,
    ...(w.base === undefined ? {} : { ifMatch: String(w.base) }),
  };
  switch (w.op) {
    case "insert":
      return {
        ...base,
        method: "POST",
        path: `/v1/tables/${table}/rows`,
        body: JSON.stringify(w.values),
      };
    case "update":
      return {
        ...base,
        method: "PATCH",
        path: `/v1/tables/${table}/rows/${encodeURIComponent(w.rowId)}`,
        body: JSON.stringify(w.values),
      };
    case "delete":
      return {
        ...base,
        method: "DELETE",
        path: `/v1/tables/${table}/rows/${encodeURIComponent(w.rowId)}`,
      };
  }
}

/** A batch (SPEC §5.2); versions chained for writes to one row within it. */
function batch(writes: readonly QueuedWrite[], id: string): SentRequest {
  const expected = batchVersions(writes);
  const ops = writes.map((w, i) => {
    const version = expected[i] === undefined ? {} : { version: expected[i] };
    if (w.op === "insert") return { op: "insert", row: w.values };
    if (w.op === "update") return { op: "update", id: w.rowId, row: w.values, ...version };
    return { op: "delete", id: w.rowId, ...version };
  });
  return {
    id,
    seqs: writes.map((w) => w.seq),
    table: writes[0]!.table,
    method: "POST",
    path: `/v1/tables/${encodeURIComponent(writes[0]!.table)}/batch`,
    body: JSON.stringify(ops),
    batch: true,
  };
}

/**
 * The version each write of a batch expects: its base, or — when an earlier write of the batch
 * changed the same row from the same base — one more than that write expected.
 */
export function batchVersions(writes: readonly QueuedWrite[]): (number | undefined)[] {
  const last = new Map<string, { base: number | undefined; expected: number | undefined }>();
  return writes.map((w) => {
    const prev = last.get(w.rowKey);
    let expected = w.base;
    if (
      prev && prev.expected !== undefined && (w.base === undefined || w.base === prev.base)
    ) expected = prev.expected + 1;
    if (w.op === "insert") expected = undefined;
    last.set(w.rowKey, { base: w.base, expected });
    return expected;
  });
}
