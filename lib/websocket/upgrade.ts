/**
 * `upgradeWebSocket(req)`, the counterpart of `Deno.upgradeWebSocket` for requests served by
 * `startWsServer`: a fetch-style handler decides (authentication, limits) and either returns an
 * ordinary Response (401, 429, 503…) or upgrades and returns the response it was given.
 */
import type { Connection, WsConnection } from "./connection.ts";
import { checkUpgrade } from "./handshake.ts";

export interface UpgradeOptions {
  /** Overrides the server's limit for this connection. */
  maxMessageBytes?: number;
}

export interface Upgrade {
  socket: WsConnection;
  /** Return this from the handler to complete the upgrade (headers set on it are sent too). */
  response: Response;
}

/** The server's side of a request that may be upgraded: makes its connection. */
export interface UpgradeSlot {
  create(options: UpgradeOptions): Connection;
}

const slots = new WeakMap<Request, UpgradeSlot>();
const answers = new WeakMap<Response, { socket: Connection; key: string }>();

/**
 * Accepts the WebSocket the request asks for. Throws `UpgradeError` (status 400 or 426, with a
 * `response()`) when the request is not a valid upgrade, and TypeError when it was not served by
 * `startWsServer` or was already upgraded.
 */
export function upgradeWebSocket(req: Request, options: UpgradeOptions = {}): Upgrade {
  const slot = slots.get(req);
  if (!slot) {
    throw new TypeError("upgradeWebSocket: the request was not served by startWsServer");
  }
  const key = checkUpgrade(req);
  slots.delete(req);
  const socket = slot.create(options);
  const response = new Response(null, { status: 200 });
  answers.set(response, { socket, key });
  return { socket, response };
}

/** Server side: lets `req` be upgraded through `slot`. */
export function offerUpgrade(req: Request, slot: UpgradeSlot): void {
  slots.set(req, slot);
}

/** Server side: the connection `res` completes, if the handler returned an upgrade's response. */
export function upgradeOf(res: Response): { socket: Connection; key: string } | undefined {
  return answers.get(res);
}
