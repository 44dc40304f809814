/** Starting and stopping an HTTP listener, with a clear message when the port is taken. */
import type { Logger } from "../log.ts";

export interface Served {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface ListenAt {
  host: string;
  port: number;
  /** The variable that sets the port, named when the port is taken. */
  portVariable: string;
}

/** The host to show in URLs: 0.0.0.0 binds every address, 127.0.0.1 reaches one of them. */
export function shownHost(host: string): string {
  return host === "0.0.0.0" ? "127.0.0.1" : host;
}

/** Starts a server, turning a taken port into a message that names the variable to change. */
export async function listening<T>(
  name: string,
  at: ListenAt,
  start: () => Promise<T>,
): Promise<T> {
  try {
    return await start();
  } catch (err) {
    throw portTaken(name, at, err);
  }
}

function portTaken(name: string, at: ListenAt, err: unknown): unknown {
  if (!(err instanceof Deno.errors.AddrInUse)) return err;
  return new Error(
    `${name}: port ${at.port} on ${at.host} is in use; set ${at.portVariable} to another port`,
  );
}

export function serve(
  name: string,
  handler: (req: Request) => Response | Promise<Response>,
  opts: ListenAt & { log: Logger; graceMs?: number },
): Served {
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname: opts.host, port: opts.port, onListen: () => {} }, handler);
  } catch (err) {
    throw portTaken(name, opts, err);
  }
  const port = server.addr.port;
  const url = `http://${shownHost(opts.host)}:${port}`;
  opts.log.info(`${name} listening`, { url });
  return {
    url,
    port,
    // Connections that never finish (a half-open WebSocket) must not hold the stop: after
    // `graceMs` the server is left to the process's exit.
    stop: async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        server.shutdown(),
        new Promise((r) => timer = setTimeout(r, opts.graceMs ?? 1_000)),
      ]);
      clearTimeout(timer);
    },
  };
}
