/**
 * Envelope JSON, fast. Every change is serialised once, and this is the hot path of the listener:
 * the parts an envelope shares with the rest of its transaction (the `source` block but for its
 * position) are serialised once per transaction and table, not once per change.
 *
 * Nanosecond timestamps pass 2^53, where a JSON number read as a double loses digits: `ts_ns` is
 * written as the exact decimal `ts_us × 1000` (Debezium's consumers read it as a 64-bit integer).
 * Otherwise the output is `JSON.stringify(envelope)` for envelopes built by `makeEnvelope`.
 */
import type { Envelope, SourceInfo } from "./envelope.ts";

const sourceParts = new Map<string, [string, string]>();
const PLACEHOLDER = "\u0000\u0001position\u0001\u0000";
const QUOTED = JSON.stringify(PLACEHOLDER);

/** The last source block seen: consecutive changes of a transaction and table share theirs. */
let last: { source: SourceInfo; parts: [string, string] } | undefined;

/** `{"version":…,"position":"` and `","txId":…}` around a source block's position. */
function partsOf(s: SourceInfo): [string, string] {
  if (last && sameBlock(last.source, s)) return last.parts;
  const id =
    `${s.connector}\u0000${s.name}\u0000${s.db}\u0000${s.schema}\u0000${s.table}\u0000${s.txId}\u0000${s.ts_us}\u0000${s.snapshot}\u0000${
      s.origin ? `${s.origin.instance}\u0000${s.origin.direction}` : ""
    }`;
  let parts = sourceParts.get(id);
  if (!parts) {
    if (sourceParts.size > 1000) sourceParts.clear(); // one entry per recent transaction and table
    // PostgreSQL text cannot hold NUL, so no real value is this placeholder.
    const json = JSON.stringify({ ...s, position: PLACEHOLDER }).replace(
      /"ts_ns":[^,}]+/,
      `"ts_ns":${exactNs(s.ts_us)}`,
    );
    const at = json.indexOf(QUOTED);
    parts = [json.slice(0, at + 1), json.slice(at + QUOTED.length - 1)];
    sourceParts.set(id, parts);
  }
  last = { source: s, parts };
  return parts;
}

/** Whether two source blocks differ at most in their position. */
function sameBlock(a: SourceInfo, b: SourceInfo): boolean {
  return a.table === b.table && a.txId === b.txId && a.ts_us === b.ts_us &&
    a.snapshot === b.snapshot && a.schema === b.schema && a.db === b.db && a.name === b.name &&
    a.connector === b.connector && a.version === b.version &&
    a.origin?.instance === b.origin?.instance && a.origin?.direction === b.origin?.direction;
}

export function envelopeJson(e: Envelope, keyJson: string = JSON.stringify(e.key)): string {
  const [before, after] = partsOf(e.source);
  const t = e.transaction;
  // A concatenation tree, not one run of characters: the bus keeps its UTF-8 bytes and every
  // encoder flattens it once, so flattening it here would only cost a pass.
  return (`{"id":${JSON.stringify(e.id)},"op":"${e.op}","before":${json(e.before)},"after":${
    json(e.after)
  },` +
    `"key":${keyJson},"changed":${json(e.changed)},"bucket":${json(e.bucket)},` +
    `"source":${before}${JSON.stringify(e.source.position).slice(1, -1)}${after},` +
    `"transaction":${
      t === null
        ? "null"
        : `{"id":${
          JSON.stringify(t.id)
        },"total_order":${t.total_order},"data_collection_order":${t.data_collection_order}}`
    },"ts_ms":${e.ts_ms},"ts_us":${e.ts_us},"ts_ns":${exactNs(e.ts_us)}${
      e.oversize ? `,"oversize":${JSON.stringify(e.oversize)}` : ""
    }}`);
}

/** Microseconds as the exact decimal number of nanoseconds. */
export function exactNs(us: number): string {
  return us === 0 ? "0" : `${us}000`;
}

function json(v: unknown): string {
  return v === null ? "null" : JSON.stringify(v);
}
