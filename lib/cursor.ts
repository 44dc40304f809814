/**
 * Cursors: where a subscriber stands in one topic of the bus. A cursor names the bus epoch (the
 * log its offsets refer to), the topic, and the next offset to deliver per partition. Built from
 * bus offsets, not instance state, so any gateway of the same bus can resume it.
 *
 * Wire form: `c1.<base64url of ["epoch","topic"]>.<offset>-<offset>-…`. Every change frame carries
 * one, so the epoch-and-topic part is encoded once per topic and cached.
 */
import { SyncError } from "./errors.ts";

export type Offsets = readonly number[];

export interface Cursor {
  readonly epoch: string;
  readonly topic: string;
  readonly offsets: Offsets;
}

const prefixes = new Map<string, string>();

export function encodeCursor(c: Cursor): string {
  const id = `${c.epoch}\n${c.topic}`;
  let prefix = prefixes.get(id);
  if (prefix === undefined) {
    if (prefixes.size > 10_000) prefixes.clear();
    prefix = `c1.${base64url(new TextEncoder().encode(JSON.stringify([c.epoch, c.topic])))}.`;
    prefixes.set(id, prefix);
  }
  return prefix + c.offsets.join("-");
}

export function decodeCursor(text: string): Cursor {
  const malformed = () => new SyncError("bad_request", "malformed cursor");
  const parts = text.length <= 4096 ? text.split(".") : [];
  if (parts.length !== 3 || parts[0] !== "c1") throw malformed();
  let head: unknown;
  try {
    head = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(unbase64url(parts[1]!)));
  } catch {
    throw malformed();
  }
  if (
    !Array.isArray(head) || head.length !== 2 || typeof head[0] !== "string" ||
    typeof head[1] !== "string" || !head[0] || !head[1]
  ) throw malformed();
  const offsets = parts[2] === ""
    ? []
    : parts[2]!.split("-").map((o) => (/^\d{1,15}$/.test(o) ? Number(o) : NaN));
  if (offsets.some(Number.isNaN)) throw malformed();
  return { epoch: head[0], topic: head[1], offsets };
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
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("not base64url");
  const s = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
