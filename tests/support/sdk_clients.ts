/**
 * SDK clients against a test stack, each through its own TCP proxies (REST and WebSocket) so a
 * test can take its network down, cut its connections or swallow a response.
 */
import { memoryStorage } from "../../sdk/storage/memory.ts";
import type { SyncStorage } from "../../sdk/storage/storage.ts";
import { SyncHub } from "../../sdk/sync_hub.ts";
import type { ConflictEvent, ErrorEvent, Row } from "../../sdk/types.ts";
import type { Stack } from "./stack.ts";
import { TcpProxy } from "./tcp_proxy.ts";
import { waitFor } from "./wait.ts";

export interface Client {
  hub: SyncHub;
  rest: TcpProxy;
  ws: TcpProxy;
  conflicts: ConflictEvent[];
  errors: ErrorEvent[];
  /** Takes the client's network down (true) or up. */
  offline(down: boolean): void;
  close(): Promise<void>;
}

export async function sdkClient(
  stack: Stack,
  opts: { buckets?: string[]; storage?: SyncStorage; token?: string } = {},
): Promise<Client> {
  const crud = new URL(stack.crud.url);
  const gateway = new URL(stack.gateway.url);
  const rest = new TcpProxy({ hostname: crud.hostname, port: Number(crud.port) });
  const ws = new TcpProxy({ hostname: gateway.hostname, port: Number(gateway.port) });
  const token = opts.token ?? await stack.token(opts.buckets ?? ["demo-a"]);
  const hub = new SyncHub({
    url: rest.url,
    wsUrl: `ws://127.0.0.1:${ws.port}/v1/ws`,
    token: () => token,
    storage: opts.storage ?? memoryStorage(),
  });
  const conflicts: ConflictEvent[] = [];
  const errors: ErrorEvent[] = [];
  hub.on("conflict", (e) => conflicts.push(e));
  hub.on("error", (e) => errors.push(e));
  return {
    hub,
    rest,
    ws,
    conflicts,
    errors,
    offline(down) {
      rest.setDown(down);
      ws.setDown(down);
    },
    async close() {
      await hub.close();
      rest.close();
      ws.close();
    },
  };
}

/** Waits until `hub`'s view of the table satisfies `probe`, and returns the rows. */
export async function rowsWhen(
  hub: SyncHub,
  table: string,
  probe: (rows: Row[]) => boolean,
  what: string,
): Promise<Row[]> {
  const t = hub.table(table);
  return await waitFor(() => probe(t.rows()) ? t.rows() : undefined, what);
}

export async function online(hub: SyncHub): Promise<void> {
  await waitFor(() => hub.status === "online", "the hub to be online");
}

export function byId(rows: Row[], id: unknown): Row | undefined {
  return rows.find((r) => r.id === id);
}
