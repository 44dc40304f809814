/**
 * The byte stream under the server, behind one small face so that the TCP layer can be chosen:
 * Deno's own (`Deno.listen`, deno_transport.ts) or Deno's node:net (node_transport.ts), which
 * writes without a promise per write and keeps no read buffer per idle socket.
 */

export interface TransportEvents {
  /** Bytes arrived; `chunk` is only valid during the call (the transport may reuse it). */
  onData(chunk: Uint8Array): void;
  /** No more bytes will arrive: the peer ended, the connection failed, or it was closed. */
  onEnd(err?: unknown): void;
}

export interface Transport {
  readonly remoteAddr: Deno.NetAddr;
  readonly localAddr: Deno.NetAddr;
  /** Settles once the connection is closed and nothing of it is pending. */
  readonly closed: Promise<void>;
  /** Starts (or redirects) delivery of what arrives. */
  listen(events: TransportEvents): void;
  /** Writes all of `data`; `done` is called once it is handed to the kernel, or has failed. */
  write(data: Uint8Array, done: (err?: unknown) => void): void;
  /** Ends our direction (FIN) after what was written; reading goes on. */
  closeWrite(): void;
  /** Drops the connection now; pending writes fail. */
  close(): void;
}

export interface TransportListener {
  readonly addr: Deno.NetAddr;
  /** Stops accepting; settles once the listener is closed. */
  close(): Promise<void>;
}

export interface ListenOptions {
  hostname: string;
  port: number;
  onConnection(t: Transport): void;
  /** Accepting failed for a while (out of file descriptors, say). */
  onError(err: unknown): void;
}

export type Listen = (options: ListenOptions) => Promise<TransportListener>;

/** A promise form of `Transport.write`, for the HTTP side. */
export function writeAll(t: Pick<Transport, "write">, data: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => t.write(data, (err) => err ? reject(err) : resolve()));
}
