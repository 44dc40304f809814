/**
 * Cursors: where a subscriber stands in the bus. A cursor names the bus epoch (the log its
 * offsets refer to), and per topic the next offset to deliver per partition. Built from bus
 * offsets, not instance state, so any gateway of the same bus can resume it.
 *
 * Two wire forms:
 * - `c1.<base64url of ["epoch","topic"]>.<offset>-<offset>-…`: one topic. Every change frame
 *   carries one, so the epoch-and-topic part is encoded once per topic and cached.
 * - `c2.<base64url of [epoch, {topic: offsets}, visibility]>`: a snapshot's cursor (a checkpoint,
 *   bucket data). Its offsets were taken before the snapshot, so records after them may already
 *   be in the snapshot: the visibility says which (lib/snapshot.ts `inSnapshot`), and a
 *   subscription resumed from it skips those. It may name several topics (every table of a
 *   checkpoint); a subscription started from it keeps the visibility in the cursors it sends.
 */
import { SyncError } from "./errors.ts";
import type { Visibility } from "./snapshot.ts";

export type Offsets = readonly number[];

export interface Cursor {
  readonly epoch: string;
  readonly topic: string;
  readonly offsets: Offsets;
  /** Changes the holder already has, from a snapshot (c2 cursors only). */
  readonly visibility?: Visibility | undefined;
}

/** A position in several topics at once: what a c2 cursor holds. */
export interface BusPosition {
  readonly epoch: string;
  readonly offsets: Readonly<Record<string, Offsets>>;
  readonly visibility?: Visibility | undefined;
}

/** c1 cursors are short; c2 ones name every table of a checkpoint and a snapshot's xid list. */
const MAX_C1 = 4096;
export const MAX_CURSOR_LENGTH = 32_768;

const prefixes = new Map<string, string>();

export function encodeCursor(c: Cursor): string {
  if (c.visibility) {
    return encodePosition({
      epoch: c.epoch,
      offsets: { [c.topic]: c.offsets },
      visibility: c.visibility,
    });
  }
  const id = `${c.epoch}\n${c.topic}`;
  let prefix = prefixes.get(id);
  if (prefix === undefined) {
    if (prefixes.size > 10_000) prefixes.clear();
    prefix = `c1.${base64url(new TextEncoder().encode(JSON.stringify([c.epoch, c.topic])))}.`;
    prefixes.set(id, prefix);
  }
  return prefix + c.offsets.join("-");
}

export function encodePosition(p: BusPosition): string {
  const json = JSON.stringify([p.epoch, p.offsets, p.visibility ?? null]);
  return `c2.${base64url(new TextEncoder().encode(json))}`;
}

/** A cursor of one topic (c1, or a c2 naming exactly one topic). */
export function decodeCursor(text: string): Cursor {
  const p = decodePosition(text);
  const topics = Object.keys(p.offsets);
  if (topics.length !== 1) throw malformed();
  return {
    epoch: p.epoch,
    topic: topics[0]!,
    offsets: p.offsets[topics[0]!]!,
    ...(p.visibility ? { visibility: p.visibility } : {}),
  };
}

/** Either form, as a position in the topics it names. */
export function decodePosition(text: string): BusPosition {
  if (text.startsWith("c2.") && text.length <= MAX_CURSOR_LENGTH) return decodeC2(text);
  const parts = text.length <= MAX_C1 ? text.split(".") : [];
  if (parts.length !== 3 || parts[0] !== "c1") throw malformed();
  const head = parseJson(parts[1]!);
  if (
    !Array.isArray(head) || head.length !== 2 || typeof head[0] !== "string" ||
    typeof head[1] !== "string" || !head[0] || !head[1]
  ) throw malformed();
  const offsets = parts[2] === ""
    ? []
    : parts[2]!.split("-").map((o) => (/^\d{1,15}$/.test(o) ? Number(o) : NaN));
  if (offsets.some(Number.isNaN)) throw malformed();
  return { epoch: head[0], offsets: { [head[1]]: offsets } };
}

function decodeC2(text: string): BusPosition {
  const parts = text.split(".");
  if (parts.length !== 2) throw malformed();
  const body = parseJson(parts[1]!);
  if (!Array.isArray(body) || body.length !== 3) throw malformed();
  const [epoch, topics, visibility] = body as unknown[];
  if (typeof epoch !== "string" || !epoch) throw malformed();
  if (typeof topics !== "object" || topics === null || Array.isArray(topics)) throw malformed();
  const offsets: Record<string, Offsets> = {};
  for (const [topic, o] of Object.entries(topics)) {
    const valid = topic !== "" && Array.isArray(o) &&
      o.every((n) => Number.isSafeInteger(n) && n >= 0);
    if (!valid) throw malformed();
    offsets[topic] = o as number[];
  }
  if (Object.keys(offsets).length === 0) throw malformed();
  if (visibility === null) return { epoch, offsets };
  if (!isVisibility(visibility)) throw malformed();
  return { epoch, offsets, visibility };
}

function isVisibility(v: unknown): v is Visibility {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  if (o.kind === "xid") {
    return typeof o.snapshot === "string" && /^\d+:\d+:(\d+(,\d+)*)?$/.test(o.snapshot);
  }
  return o.kind === "position" && typeof o.position === "string" && o.position !== "";
}

/** True when every partition of `a` is at or past `b`. */
export function covers(a: Offsets, b: Offsets): boolean {
  return b.every((o, p) => (a[p] ?? 0) >= o);
}

function malformed(): SyncError {
  return new SyncError("bad_request", "malformed cursor");
}

function parseJson(part: string): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(unbase64url(part)));
  } catch {
    throw malformed();
  }
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
