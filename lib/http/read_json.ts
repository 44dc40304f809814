/** Reading requests: a JSON body with a size limit (the CRUD API and the sync control API). */
import { SyncError } from "../errors.ts";

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
