/** Device and subscription requests and answers as zod schemas: they validate and document. */
import { z } from "zod";
import { text } from "../../../lib/text_value.ts";
import { whereSchema } from "../../gateway/protocol.ts";

export const deviceRequestSchema = z.strictObject({
  name: text({ min: 1, max: 200 }),
  platform: text({ min: 1, max: 100 }).describe("e.g. ios, android, web, desktop"),
}).meta({ id: "DeviceRequest" });

export const deviceSchema = z.object({
  id: z.string(),
  name: z.string(),
  platform: z.string(),
  created_at: z.string(),
}).meta({ id: "Device" });

export const deviceListSchema = z.object({ devices: z.array(deviceSchema) }).meta({
  id: "DeviceList",
});

export const subscriptionRequestSchema = z.strictObject({
  device_id: z.guid("expected a UUID"),
  table: text({ min: 1, max: 200 }).describe("`todos` or `public.todos`"),
  where: whereSchema.optional().describe("as in the WebSocket subscribe message"),
}).meta({ id: "SubscriptionRequest" });

export const subscriptionSchema = z.object({
  id: z.string(),
  device_id: z.string(),
  table: z.string(),
  where: z.record(z.string(), z.unknown()).nullable(),
  cursor: z.string().describe("where resume_device resumes it: its creation, or the last ack"),
  created_at: z.string(),
  acked_at: z.string().nullable(),
}).meta({ id: "Subscription" });

export const subscriptionListSchema = z.object({
  subscriptions: z.array(subscriptionSchema),
}).meta({ id: "SubscriptionList" });
