/** Reading requests: a body with a size limit, as bytes or JSON (the CRUD API, the sync control API). */
import { SyncError } from "../errors.ts";

/** The body as JSON, refused once it passes `maxBytes` (before reading it, when it says its size). */
export async function readJson(req: Request, maxBytes: number): Promise<unknown> {
  const body = await readBytes(req, maxBytes);
  if (!body) throw new SyncError("payload_too_large", `the body exceeds ${maxBytes} bytes`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(body);
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

/**
 * The body's bytes, or undefined once they pass `maxBytes` (at once when Content-Length says so;
 * the rest is not read).
 */
export async function readBytes(req: Request, maxBytes: number): Promise<Uint8Array | undefined> {
  if (!req.body) return new Uint8Array();
  if (Number(req.headers.get("content-length") ?? 0) > maxBytes) return undefined;
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}
