/** The device and subscription routes as OpenAPI paths and schemas. */
import { body, errors, type Json, jsonSchema, pathParam, queryParam, reply } from "../operation.ts";
import {
  deviceListSchema,
  deviceRequestSchema,
  deviceSchema,
  subscriptionListSchema,
  subscriptionRequestSchema,
  subscriptionSchema,
} from "./schemas.ts";

export function deviceSchemas(): Json {
  return {
    DeviceRequest: jsonSchema(deviceRequestSchema),
    Device: jsonSchema(deviceSchema),
    DeviceList: jsonSchema(deviceListSchema),
    SubscriptionRequest: jsonSchema(subscriptionRequestSchema),
    Subscription: jsonSchema(subscriptionSchema),
    SubscriptionList: jsonSchema(subscriptionListSchema),
  };
}

export function devicePaths(): Json {
  const devices = { security: [{ bearer: [] }], tags: ["devices"] };
  const id = pathParam("id");
  return {
    "/v1/devices": {
      post: {
        ...devices,
        summary: "Register a device of the token's holder",
        requestBody: body("DeviceRequest"),
        responses: { 201: reply("the device", "Device"), ...errors(400, 401) },
      },
      get: {
        ...devices,
        summary: "The holder's devices",
        responses: { 200: reply("the devices", "DeviceList"), ...errors(401) },
      },
    },
    "/v1/devices/{id}": {
      get: {
        ...devices,
        summary: "One of the holder's devices",
        parameters: [id],
        responses: { 200: reply("the device", "Device"), ...errors(401, 404) },
      },
      delete: {
        ...devices,
        summary: "Remove a device and its subscriptions",
        parameters: [id],
        responses: { 200: reply("the device removed", "Device"), ...errors(401, 404) },
      },
    },
    "/v1/subscriptions": {
      post: {
        ...devices,
        summary: "Store a subscription of a device; resume_device resumes it from its last ack",
        requestBody: body("SubscriptionRequest"),
        responses: {
          201: reply("the subscription", "Subscription"),
          ...errors(400, 401, 403, 404, 503),
        },
      },
      get: {
        ...devices,
        summary: "The holder's stored subscriptions",
        parameters: [queryParam("device_id", "only this device's")],
        responses: { 200: reply("the subscriptions", "SubscriptionList"), ...errors(401, 404) },
      },
    },
    "/v1/subscriptions/{id}": {
      delete: {
        ...devices,
        summary: "Remove a stored subscription",
        parameters: [id],
        responses: { 200: reply("the subscription removed", "Subscription"), ...errors(401, 404) },
      },
    },
  };
}
