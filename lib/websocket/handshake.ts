/** The opening handshake (RFC 6455 §4.2): which requests may upgrade, and the 101 answer. */

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** A request that asked for a WebSocket but cannot have one; `status` is 400 or 426. */
export class UpgradeError extends TypeError {
  constructor(readonly status: 400 | 426, message: string) {
    super(message);
    this.name = "UpgradeError";
  }

  /** The answer to send instead of the upgrade. */
  response(): Response {
    const headers: Record<string, string> = { "content-type": "text/plain; charset=utf-8" };
    if (this.status === 426) {
      headers["sec-websocket-version"] = "13";
      headers["upgrade"] = "websocket";
    }
    return new Response(`${this.message}\n`, { status: this.status, headers });
  }
}

/** Whether a header holds `token` in its comma-separated list, case-insensitively. */
function hasToken(value: string | null, token: string): boolean {
  return value?.split(",").some((t) => t.trim().toLowerCase() === token) ?? false;
}

/** Whether the request asks for a WebSocket at all (`Upgrade: websocket`). */
export function isUpgradeRequest(req: Request): boolean {
  return hasToken(req.headers.get("upgrade"), "websocket");
}

/** The request's Sec-WebSocket-Key when it is a valid upgrade request; throws UpgradeError. */
export function checkUpgrade(req: Request): string {
  if (req.method !== "GET") throw new UpgradeError(400, "a WebSocket upgrade must use GET");
  if (!isUpgradeRequest(req)) throw new UpgradeError(400, "missing 'Upgrade: websocket'");
  if (!hasToken(req.headers.get("connection"), "upgrade")) {
    throw new UpgradeError(400, "missing 'Connection: Upgrade'");
  }
  if (req.headers.get("sec-websocket-version")?.trim() !== "13") {
    throw new UpgradeError(426, "Sec-WebSocket-Version must be 13");
  }
  const key = req.headers.get("sec-websocket-key")?.trim() ?? "";
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) {
    throw new UpgradeError(400, "Sec-WebSocket-Key must be 16 bytes in base64");
  }
  return key;
}

/** Sec-WebSocket-Accept: base64(SHA-1(key + GUID)). */
export async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key + GUID));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** The 101 response head; `extra` are headers the handler set on its response. */
export function switchingProtocols(accept: string, extra?: Headers): Uint8Array {
  let head = "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n" +
    `sec-websocket-accept: ${accept}\r\n`;
  for (const [name, value] of extra ?? []) {
    if (!HOP_BY_HOP.has(name)) head += `${name}: ${value}\r\n`;
  }
  return new TextEncoder().encode(`${head}\r\n`);
}

/** Headers the server writes itself; a handler's copy is ignored. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "upgrade",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "sec-websocket-accept",
]);
