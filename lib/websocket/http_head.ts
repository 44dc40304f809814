/**
 * The head of an HTTP/1.1 request (RFC 9112 §2–5): request line and header fields, parsed from
 * bytes with limits. Pure; the server reads the bytes and answers `HttpError`s with their status.
 */

/** A request the server refuses before any handler sees it. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "HttpError";
  }
}

export interface RequestHead {
  method: string;
  /** The request target as sent: `/path?query` (or an absolute URL). */
  target: string;
  version: "1.0" | "1.1";
  headers: Headers;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TARGET = /^[\x21-\x7e]+$/;

/** The offset just past the blank line ending the head, or -1; scans from `from`. */
export function findHeadEnd(buf: Uint8Array, from = 0): number {
  for (let i = Math.max(0, from); i + 3 < buf.length; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i + 4;
  }
  return -1;
}

/** Bytes as ISO-8859-1: HTTP field values are bytes, and fetch Headers take them as such. */
function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

/** Parses a head (the bytes up to and including its blank line). */
export function parseRequestHead(bytes: Uint8Array, maxHeaderCount: number): RequestHead {
  const lines = latin1(bytes).split("\r\n");
  while (lines.length > 0 && lines.at(-1) === "") lines.pop();
  const requestLine = lines[0] ?? "";
  const parts = requestLine.split(" ");
  if (parts.length !== 3) throw new HttpError(400, "malformed request line");
  const [method, target, protocol] = parts as [string, string, string];
  if (!TOKEN.test(method)) throw new HttpError(400, "malformed method");
  if (!TARGET.test(target)) throw new HttpError(400, "malformed request target");
  if (!/^HTTP\/\d\.\d$/.test(protocol)) throw new HttpError(400, "malformed protocol version");
  if (protocol !== "HTTP/1.1" && protocol !== "HTTP/1.0") {
    throw new HttpError(505, `${protocol} is not supported`);
  }
  if (lines.length - 1 > maxHeaderCount) {
    throw new HttpError(431, `more than ${maxHeaderCount} header fields`);
  }
  const headers = new Headers();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (line.startsWith(" ") || line.startsWith("\t")) {
      throw new HttpError(400, "obsolete line folding is not accepted");
    }
    const name = line.slice(0, colon);
    if (colon <= 0 || !TOKEN.test(name)) throw new HttpError(400, "malformed header field");
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    // deno-lint-ignore no-control-regex
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) {
      throw new HttpError(400, `control character in header ${name}`);
    }
    headers.append(name, value);
  }
  const version = protocol === "HTTP/1.1" ? "1.1" : "1.0";
  if (version === "1.1" && !headers.has("host")) throw new HttpError(400, "missing Host header");
  return { method, target, version, headers };
}

/** The request's URL, from its target and Host header (`fallbackHost` without one). */
export function requestUrl(head: RequestHead, fallbackHost: string): string {
  if (/^https?:\/\//i.test(head.target)) return checkedUrl(head.target);
  if (!head.target.startsWith("/")) throw new HttpError(400, "unsupported request target form");
  const host = head.headers.get("host") || fallbackHost;
  if (!/^[A-Za-z0-9.\-:[\]_]+$/.test(host)) throw new HttpError(400, "malformed Host header");
  return checkedUrl(`http://${host}${head.target}`);
}

function checkedUrl(url: string): string {
  try {
    return new URL(url).href;
  } catch {
    throw new HttpError(400, "malformed request target");
  }
}

/**
 * How many body bytes follow the head. Chunked request bodies are not supported (the endpoints
 * served are small); an unreadable or ambiguous length is refused rather than guessed.
 */
export function bodyLength(head: RequestHead): number {
  if (head.headers.has("transfer-encoding")) {
    throw new HttpError(501, "request bodies must have a Content-Length");
  }
  const raw = head.headers.get("content-length");
  if (raw === null) return 0;
  const values = raw.split(",").map((v) => v.trim());
  if (!values.every((v) => /^\d{1,15}$/.test(v) && v === values[0])) {
    throw new HttpError(400, "malformed Content-Length");
  }
  return Number(values[0]);
}
