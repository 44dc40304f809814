/**
 * Devices and their stored subscriptions (SPEC §10), mounted under /v1. A token's holder (`sub`)
 * sees and changes only its own; another's is not found. A subscription is checked as a
 * WebSocket subscribe would be — the table readable under the access policy, the filter valid
 * for its columns — and starts at the bus's position when it is made.
 */
import { Hono } from "hono";
import { type AccessPolicy, principalOf, tableRefusal } from "../../../lib/access.ts";
import type { CatalogSource } from "../../../lib/catalog.ts";
import type { JsonValue } from "../../../lib/envelope.ts";
import { SyncError } from "../../../lib/errors.ts";
import { uuidOf } from "../../../lib/uuid.ts";
import type { DeviceStore } from "../../../lib/postgres/devices.ts";
import { compileWhere } from "../../gateway/filter.ts";
import { parseBody } from "../auth/schemas.ts";
import type { BusPositions } from "../buckets/position.ts";
import type { CrudEnv, JsonBody } from "../env.ts";
import { deviceRequestSchema, subscriptionRequestSchema } from "./schemas.ts";

export interface DeviceRoutesDeps {
  devices: DeviceStore;
  catalog: CatalogSource;
  policy: AccessPolicy;
  positions: BusPositions;
  jsonBody: JsonBody;
}

export function devicesApp(deps: DeviceRoutesDeps): Hono<CrudEnv> {
  const app = new Hono<CrudEnv>();
  const { devices } = deps;

  app.post("/devices", async (c) => {
    const { name, platform } = parseBody(deviceRequestSchema, await deps.jsonBody(c.req.raw));
    return c.json(await devices.createDevice(c.get("claims").sub, name, platform), 201);
  });

  app.get("/devices", async (c) => c.json({ devices: await devices.devices(c.get("claims").sub) }));

  app.get("/devices/:id", async (c) => {
    const id = uuidOf(c.req.param("id"), "the device id");
    return c.json(await devices.device(c.get("claims").sub, id));
  });

  app.delete("/devices/:id", async (c) => {
    const id = uuidOf(c.req.param("id"), "the device id");
    return c.json(await devices.deleteDevice(c.get("claims").sub, id));
  });

  app.post("/subscriptions", async (c) => {
    const claims = c.get("claims");
    const body = parseBody(subscriptionRequestSchema, await deps.jsonBody(c.req.raw));
    await devices.device(claims.sub, body.device_id); // not theirs: not found, before anything else
    const table = await deps.catalog.table(body.table).catch(() => {
      throw new SyncError("unavailable", "the database is unreachable; retry later");
    });
    if (!table) throw new SyncError("not_found", `unknown table "${body.table}"`);
    const refusal = tableRefusal(
      principalOf(claims),
      deps.policy.rule(table),
      table.qualified,
      "read",
    );
    if (refusal) throw refusal;
    compileWhere(body.where, table); // a typo is an error now, not at the next resume
    const created = await devices.createSubscription(claims.sub, {
      device_id: body.device_id,
      table: table.qualified,
      where: (body.where ?? null) as Record<string, JsonValue> | null,
    }, await deps.positions.now(table));
    return c.json(created, 201);
  });

  app.get("/subscriptions", async (c) => {
    const query = c.req.query("device_id");
    const device = query === undefined ? undefined : uuidOf(query, "device_id");
    return c.json({ subscriptions: await devices.subscriptions(c.get("claims").sub, device) });
  });

  app.delete("/subscriptions/:id", async (c) => {
    const id = uuidOf(c.req.param("id"), "the subscription id");
    return c.json(await devices.deleteSubscription(c.get("claims").sub, id));
  });

  return app;
}
