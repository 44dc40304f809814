/** Starting and stopping an HTTP listener, with a clear message when the port is taken. */
import type { Logger } from "../log.ts";

export interface Served {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export function serve(
  name: string,
  handler: (req: Request) => Response | Promise<Response>,
  opts: { host: string; port: number; portVariable: string; log: Logger; graceMs?: number },
): Served {
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname: opts.host, port: opts.port, onListen: () => {} }, handler);
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new Error(
        `${name}: port ${opts.port} on ${opts.host} is in use; set ${opts.portVariable} to another port`,
      );
    }
    throw err;
  }
  const port = server.addr.port;
  const shown = opts.host === "0.0.0.0" ? "127.0.0.1" : opts.host;
  const url = `http://${shown}:${port}`;
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
