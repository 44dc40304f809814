/**
 * Cursors: where a subscriber stands in one topic of the bus. A cursor names the bus epoch (the
 * log its offsets refer to), the topic, and the next offset to deliver per partition. Built from
 * bus offsets, not instance state, so any gateway of the same bus can resume it.
 */
import { z } from "zod";
import { SyncError } from "./errors.ts";

export type Offsets = readonly number[];

export interface Cursor {
  readonly epoch: string;
  readonly topic: string;
  readonly offsets: Offsets;
}

const PREFIX = "c1.";
const wire = z.tuple([z.string().min(1), z.string().min(1), z.array(z.number().int().min(0))]);

export function encodeCursor(c: Cursor): string {
  const bytes = new TextEncoder().encode(JSON.stringify([c.epoch, c.topic, c.offsets]));
  return PREFIX + base64url(bytes);
}

export function decodeCursor(text: string): Cursor {
  const malformed = () => new SyncError("bad_request", "malformed cursor");
  if (!text.startsWith(PREFIX) || text.length > 4096) throw malformed();
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(unbase64url(text.slice(PREFIX.length))));
  } catch {
    throw malformed();
  }
  const r = wire.safeParse(parsed);
  if (!r.success) throw malformed();
  const [epoch, topic, offsets] = r.data;
  return { epoch, topic, offsets };
}

/** True when every partition of `a` is at or past `b`. */
export function covers(a: Offsets, b: Offsets): boolean {
  return b.every((o, p) => (a[p] ?? 0) >= o);
}

function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function unbase64url(text: string): Uint8Array {
  const s = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
