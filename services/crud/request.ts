/** Reading requests: a JSON body with a size limit, and the client's address. */
import type { Context } from "hono";
import { getConnInfo } from "hono/deno";
import { SyncError } from "../../lib/errors.ts";

/** The body as JSON, refused once it passes `maxBytes` (before reading it, when it says its size). */
export async function readJson(req: Request, maxBytes: number): Promise<unknown> {
  const tooLarge = () => new SyncError("payload_too_large", `the body exceeds ${maxBytes} bytes`);
  if (Number(req.headers.get("content-length") ?? 0) > maxBytes) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req.body ?? []) {
    size += chunk.byteLength;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(concat(chunks, size));
  } catch {
    throw new SyncError("invalid_json", "the body is not valid UTF-8");
  }
  if (text.trim() === "") {
    throw new SyncError("invalid_json", "the body is empty; send a JSON object");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new SyncError("invalid_json", "the body is not valid JSON");
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * The client's address: the connection's or, behind a trusted proxy, the address that proxy saw —
 * the last X-Forwarded-For entry, the one it appended. The entries before it are the client's to
 * write, so taking the first would let a client pick a fresh address for every request.
 */
export function clientAddress(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = c.req.header("x-forwarded-for")?.split(",").at(-1)?.trim();
    if (forwarded) return forwarded;
  }
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown"; // called without a connection (tests calling app.fetch)
  }
}
