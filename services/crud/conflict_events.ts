/**
 * `conflict.detected` events (SPEC §10) for the REST API's 409s on rows: the table and the key of
 * the row that won. A middleware on the rows routes, so the routes themselves stay as they are.
 */
import type { MiddlewareHandler } from "hono";
import type { CatalogSource } from "../../lib/catalog.ts";
import { pickKey, type Row } from "../../lib/envelope.ts";
import { SyncError } from "../../lib/errors.ts";
import type { HubEvents } from "../../lib/events.ts";
import type { CrudEnv } from "./env.ts";

export function conflictEvents(
  events: HubEvents,
  catalog: CatalogSource,
): MiddlewareHandler<CrudEnv> {
  return async (c, next) => {
    await next();
    if (c.res.status !== 409 || !(c.error instanceof SyncError)) return;
    const name = decodeURIComponent(c.req.path.split("/")[3] ?? "");
    const table = await catalog.table(name).catch(() => undefined);
    if (!table) return;
    const current = (c.error.details as { current?: Row } | undefined)?.current;
    // Not awaited: the client's answer does not wait for the bus.
    void events.emit("conflict.detected", {
      source: "rest",
      table: table.qualified,
      key: current ? pickKey(current, table.primaryKey) : {},
    });
  };
}
