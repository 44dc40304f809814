/**
 * A small RFC 6455 server on raw TCP: HTTP/1.1 requests go to a fetch-style handler, which may
 * upgrade them. See server.ts for the server, connection.ts for a connection's API.
 */
export { type ReadyState, ReadyState as WsReadyState, type WsConnection } from "./connection.ts";
export { CloseCode, encodeBinaryFrame, encodeTextFrame, textOfFrame } from "./frame.ts";
export { WsProtocolError } from "./frame_parser.ts";
export { isUpgradeRequest, UpgradeError } from "./handshake.ts";
export { type Handler, startWsServer, type WsServer, type WsServerOptions } from "./server.ts";
export { type Upgrade, type UpgradeOptions, upgradeWebSocket } from "./upgrade.ts";
