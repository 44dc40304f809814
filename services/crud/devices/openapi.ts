/** The device and subscription routes as OpenAPI paths and schemas. */
import type { TableInfo } from "../../../lib/catalog.ts";
import { jsonValue } from "../../../lib/column_schemas.ts";
import { whereJsonSchema } from "../../gateway/filter_schema.ts";
import {
  body,
  errors,
  type Json,
  jsonSchema,
  namesOf,
  pathParam,
  queryParam,
  ref,
  reply,
  SECURED,
  uuidSchema,
} from "../operation.ts";
import {
  deviceListSchema,
  deviceRequestSchema,
  deviceSchema,
  subscriptionListSchema,
  subscriptionRequestSchema,
  subscriptionSchema,
} from "./schemas.ts";

export function deviceSchemas(tables: readonly TableInfo[], components: Json): void {
  Object.assign(components, {
    DeviceRequest: jsonSchema(deviceRequestSchema, components),
    Device: jsonSchema(deviceSchema, components),
    DeviceList: jsonSchema(deviceListSchema, components),
    SubscriptionRequest: subscriptionRequest(tables, components),
    Subscription: jsonSchema(subscriptionSchema, components),
    SubscriptionList: jsonSchema(subscriptionListSchema, components),
  });
}

/** One shape per served table: its names, and a `where` on its columns only. */
function subscriptionRequest(tables: readonly TableInfo[], components: Json): Json {
  const generic = jsonSchema(subscriptionRequestSchema, components);
  if (tables.length === 0) return generic;
  components.JsonValue ??= jsonSchema(jsonValue, components);
  const json = ref("JsonValue");
  const properties = (generic.properties ?? {}) as Json;
  return {
    oneOf: tables.map((t) => ({
      type: "object",
      required: ["device_id", "table"],
      additionalProperties: false,
      properties: {
        device_id: properties.device_id,
        table: { enum: namesOf(tables, t) },
        where: {
          ...whereJsonSchema(t, json),
          description: "as in the WebSocket subscribe message",
        },
      },
    })),
  };
}

export function devicePaths(): Json {
  const devices = { security: [{ bearer: [] }], tags: ["devices"] };
  const id = pathParam("id", uuidSchema);
  return {
    "/v1/devices": {
      post: {
        ...devices,
        summary: "Register a device of the token's holder",
        requestBody: body("DeviceRequest"),
        responses: {
          201: reply("the device", "Device"),
          ...errors(400, 409, 413, ...SECURED), // 409: the owner has the most devices allowed
        },
      },
      get: {
        ...devices,
        summary: "The holder's devices",
        responses: { 200: reply("the devices", "DeviceList"), ...errors(...SECURED) },
      },
    },
    "/v1/devices/{id}": {
      get: {
        ...devices,
        summary: "One of the holder's devices",
        parameters: [id],
        responses: { 200: reply("the device", "Device"), ...errors(400, 404, ...SECURED) },
      },
      delete: {
        ...devices,
        summary: "Remove a device and its subscriptions",
        parameters: [id],
        responses: { 200: reply("the device removed", "Device"), ...errors(400, 404, ...SECURED) },
      },
    },
    "/v1/subscriptions": {
      post: {
        ...devices,
        summary: "Store a subscription of a device; resume_device resumes it from its last ack",
        requestBody: body("SubscriptionRequest"),
        responses: {
          201: reply("the subscription", "Subscription"),
          ...errors(400, 403, 404, 409, 413, ...SECURED), // 409: the device has the most allowed
        },
      },
      get: {
        ...devices,
        summary: "The holder's stored subscriptions",
        parameters: [queryParam("device_id", "only this device's", uuidSchema)],
        responses: {
          200: reply("the subscriptions", "SubscriptionList"),
          ...errors(400, 404, ...SECURED),
        },
      },
    },
    "/v1/subscriptions/{id}": {
      delete: {
        ...devices,
        summary: "Remove a stored subscription",
        parameters: [id],
        responses: {
          200: reply("the subscription removed", "Subscription"),
          ...errors(400, 404, ...SECURED),
        },
      },
    },
  };
}
