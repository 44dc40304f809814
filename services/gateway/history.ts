/**
 * The WebSocket `history` message (SPEC §9): a page of a table's retained changes, from a cursor
 * or from the oldest retained one, filtered by the access policy exactly as live delivery is.
 * `{"type":"history","ref","table","since","limit"}` →
 * `{"type":"history","ref","changes":[envelopes],"cursor","has_more"}`; the cursor continues the
 * page, and is valid as `since` for `subscribe` too.
 */
import { type AccessPolicy, type Principal, readScope, tableRefusal } from "../../lib/access.ts";
import type { Bus } from "../../lib/bus/bus.ts";
import type { CatalogSource, TableInfo } from "../../lib/catalog.ts";
import { covers, decodeCursor, encodeCursor } from "../../lib/cursor.ts";
import { envelopeJson } from "../../lib/envelope_json.ts";
import { SyncError } from "../../lib/errors.ts";
import { deliveryFor, movedEnvelope } from "./filter.ts";
import { parseRecord } from "./subscription.ts";
import { HISTORY_DEFAULT_LIMIT, type HistoryMessage } from "./protocol.ts";

/** Records examined per message at most, so a token that sees few rows cannot make one scan all. */
const SCAN_BUDGET = 20_000;

export interface HistoryDeps {
  bus: Bus;
  catalog: CatalogSource;
  policy: AccessPolicy;
  topicOf(table: TableInfo): string;
  /** The epoch of the bus log that cursors refer to. */
  epoch: string;
}

/** The reply frame for one history message; throws a SyncError for the error reply. */
export async function historyReply(
  msg: HistoryMessage,
  principal: Principal,
  deps: HistoryDeps,
): Promise<string> {
  const table = await deps.catalog.table(msg.table).catch(() => {
    throw new SyncError("unavailable", "the table catalog is unreachable; retry shortly");
  });
  if (!table) throw new SyncError("not_found", `unknown table "${msg.table}"`);
  const rule = deps.policy.rule(table);
  const refusal = tableRefusal(principal, rule, table.qualified, "read");
  if (refusal) throw refusal;
  const view = { scope: readScope(principal, rule)!, rule };
  const topic = deps.topicOf(table);
  const range = await deps.bus.range(topic).catch(() => {
    throw new SyncError("unavailable", "the bus is unreachable; retry shortly");
  });
  let from = [...range.start];
  if (msg.since !== undefined) {
    const since = decodeCursor(msg.since);
    if (since.epoch !== deps.epoch) {
      throw new SyncError("cursor_expired", "the cursor is from another bus log; start afresh");
    }
    if (since.topic !== topic) {
      throw new SyncError(
        "bad_request",
        `the cursor belongs to another table, not ${table.qualified}`,
      );
    }
    if (!covers(since.offsets, range.start)) {
      throw new SyncError("cursor_expired", "the cursor is older than the retained history");
    }
    from = [...since.offsets];
  }
  const limit = msg.limit ?? HISTORY_DEFAULT_LIMIT;
  const next = [...from];
  const changes: string[] = [];
  let scanned = 0;
  let stopped = false;
  reading: for await (const batch of deps.bus.read(topic, from, range.end)) {
    for (const record of batch) {
      if (changes.length >= limit || scanned >= SCAN_BUDGET) {
        stopped = true;
        break reading;
      }
      scanned++;
      next[record.partition] = record.offset + 1;
      const envelope = parseRecord(record);
      if (!envelope) continue;
      const delivery = deliveryFor(view, [], envelope);
      if (delivery === "send") changes.push(record.value!);
      else if (delivery !== null) {
        changes.push(envelopeJson(movedEnvelope(envelope, delivery, rule)));
      }
    }
  }
  const filled = Array.from(next, (o) => o ?? 0);
  const hasMore = stopped || !covers(filled, range.end);
  // The envelopes as they were published: spliced, not re-serialised.
  const head = JSON.stringify({
    type: "history",
    ...(msg.ref === undefined ? {} : { ref: msg.ref }),
  });
  const cursor = encodeCursor({ epoch: deps.epoch, topic, offsets: filled });
  return `${head.slice(0, -1)},"changes":[${changes.join(",")}],"cursor":${
    JSON.stringify(cursor)
  },"has_more":${hasMore}}`;
}
