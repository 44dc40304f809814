/**
 * Writes a fetch Response as HTTP/1.1 with `connection: close`. A body that ends within 64 KiB is
 * sent with its Content-Length in one write; a longer or slower one is streamed chunked (or, to
 * an HTTP/1.0 client, delimited by the close).
 */
import type { ByteSink } from "./outbox.ts";
import { writeAll } from "./transport.ts";

const SMALL_BODY = 64 * 1024;
const encoder = new TextEncoder();

const REASONS: Record<number, string> = {
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  301: "Moved Permanently",
  302: "Found",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

/** Headers the server decides itself. */
const OWN = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"]);

/** A short plain-text answer the server gives by itself (400, 408, 431…). */
export function plainResponse(status: number, text: string): Response {
  return new Response(`${text}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

export async function writeResponse(
  sink: ByteSink,
  res: Response,
  req: { method: string; version: "1.0" | "1.1" },
): Promise<void> {
  let head = `HTTP/1.1 ${res.status} ${res.statusText || REASONS[res.status] || ""}\r\n`;
  for (const [name, value] of res.headers) {
    const keep = !OWN.has(name) || (req.method === "HEAD" && name === "content-length");
    if (keep) head += `${name}: ${value}\r\n`;
  }
  head += "connection: close\r\n";
  const bodiless = req.method === "HEAD" || res.status === 204 || res.status === 304 ||
    res.status < 200;
  if (bodiless || res.body === null) {
    await res.body?.cancel();
    if (!bodiless) head += "content-length: 0\r\n";
    return writeAll(sink, encoder.encode(`${head}\r\n`));
  }
  const reader = res.body.getReader();
  try {
    // Gather up to SMALL_BODY: most answers end there and get a Content-Length.
    const parts: Uint8Array[] = [];
    let size = 0, ended = false;
    while (size < SMALL_BODY) {
      const { value, done } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      parts.push(value);
      size += value.length;
    }
    if (ended) {
      const headBytes = encoder.encode(`${head}content-length: ${size}\r\n\r\n`);
      return await writeAll(sink, join([headBytes, ...parts]));
    }
    const chunked = req.version === "1.1";
    const frame = (data: Uint8Array) =>
      chunked ? join([encoder.encode(`${data.length.toString(16)}\r\n`), data, CRLF]) : data;
    const first = join(parts);
    await writeAll(
      sink,
      join([
        encoder.encode(`${head}${chunked ? "transfer-encoding: chunked\r\n" : ""}\r\n`),
        frame(first),
      ]),
    );
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (value.length > 0) await writeAll(sink, frame(value));
    }
    if (chunked) await writeAll(sink, encoder.encode("0\r\n\r\n"));
  } catch (err) {
    await reader.cancel(err).catch(() => {});
    throw err;
  }
}

const CRLF = new Uint8Array([13, 10]);

function join(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
