/**
 * Envelopes too large for the bus (SPEC §2 extension). A change whose envelope JSON passes the
 * limit is published with its largest values left out of `before`/`after` — as PostgreSQL leaves
 * out an unchanged TOAST value — and says so in `oversize: {columns, bytes}`; a client that needs
 * those values reads the row through the REST API. Key columns are never left out. Nothing
 * wedges, nothing is dropped silently: the listener counts and logs every such change.
 */
import type { Envelope, Row } from "./envelope.ts";
import { envelopeJson } from "./envelope_json.ts";

export interface Oversize {
  /** The columns left out of the row images. */
  readonly columns: string[];
  /** The size of the whole envelope's JSON, in bytes. */
  readonly bytes: number;
}

/** An envelope as published: the one given when it fits, else one without its largest values. */
export function fitEnvelope(
  e: Envelope,
  json: string,
  limitBytes: number,
): { envelope: Envelope; json: string; oversize: Oversize | null } {
  // Characters are at most three bytes each in UTF-8: most envelopes need no exact count.
  if (json.length * 3 <= limitBytes) return { envelope: e, json, oversize: null };
  const bytes = utf8Length(json);
  if (bytes <= limitBytes) return { envelope: e, json, oversize: null };
  const key = new Set(Object.keys(e.key));
  const sizes = new Map<string, number>();
  for (const image of [e.before, e.after]) {
    for (const [column, value] of Object.entries(image ?? {})) {
      if (key.has(column)) continue;
      sizes.set(column, (sizes.get(column) ?? 0) + utf8Length(JSON.stringify(value)));
    }
  }
  const largest = [...sizes].sort((a, b) => b[1] - a[1]).map(([c]) => c);
  let over = bytes - limitBytes;
  const columns: string[] = [];
  for (const column of largest) {
    columns.push(column);
    over -= sizes.get(column)! + column.length + 4;
    if (over <= 0) break;
  }
  const without = (image: Row | null) => {
    if (!image) return image;
    const out: Row = {};
    for (const [k, v] of Object.entries(image)) if (!columns.includes(k)) out[k] = v;
    return out;
  };
  const oversize = { columns, bytes };
  const envelope = { ...e, before: without(e.before), after: without(e.after), oversize };
  return { envelope, json: envelopeJson(envelope), oversize };
}

function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++; // the pair's low half
    } else n += 3;
  }
  return n;
}
