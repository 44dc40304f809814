/** The WebSocket protocol of SPEC §4 as runtime schemas, and the server's frames. */
import { z } from "zod";
import { MAX_CURSOR_LENGTH } from "../../lib/cursor.ts";
import type { WsErrorCode } from "../../lib/errors.ts";

const ref = z.string().max(200).optional();

export const HISTORY_DEFAULT_LIMIT = 100;
export const HISTORY_MAX_LIMIT = 1000;
/** SPEC §9 `history` (served by history.ts). */
export const historyMessageSchema = z.strictObject({
  type: z.literal("history"),
  ref: z.string().max(200).optional(),
  table: z.string().min(1).max(200),
  since: z.string().max(4096).optional(),
  limit: z.number().int().min(1).max(HISTORY_MAX_LIMIT).optional(),
});
export type HistoryMessage = z.infer<typeof historyMessageSchema>;

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const operators = z.strictObject({
  eq: z.json().optional(),
  neq: z.json().optional(),
  lt: scalar.optional(),
  lte: scalar.optional(),
  gt: scalar.optional(),
  gte: scalar.optional(),
  in: z.array(z.json()).max(1000).optional(),
}).refine((o) => Object.keys(o).length > 0, "an operator object needs at least one operator");

/**
 * A column maps to a value (equality) or to an operator object. An object whose keys are not all
 * operators is a JSON value, compared for equality; the filter refuses it on non-JSON columns.
 */
export const whereSchema = z.record(
  z.string().min(1),
  z.union([scalar, z.array(z.json()), operators, z.record(z.string(), z.json())]),
);
export type Where = z.infer<typeof whereSchema>;

export const clientMessageSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("subscribe"),
    ref,
    table: z.string().min(1).max(200),
    where: whereSchema.optional(),
    since: z.string().max(MAX_CURSOR_LENGTH).optional(),
    snapshot: z.boolean().optional(),
  }),
  z.strictObject({ type: z.literal("unsubscribe"), ref, sub: z.string().min(1).max(100) }),
  z.strictObject({ type: z.literal("ping"), ref }),
  historyMessageSchema, // SPEC §9
  // SPEC §10: a device's stored subscriptions, resumed from their acknowledged cursors.
  z.strictObject({ type: z.literal("resume_device"), ref, device: z.string().min(1).max(100) }),
  z.strictObject({
    type: z.literal("ack"),
    ref,
    sub: z.string().min(1).max(100),
    cursor: z.string().min(1).max(MAX_CURSOR_LENGTH),
  }),
]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;
export type SubscribeMessage = Extract<ClientMessage, { type: "subscribe" }>;
export type ResumeDeviceMessage = Extract<ClientMessage, { type: "resume_device" }>;
export type AckMessage = Extract<ClientMessage, { type: "ack" }>;

/** The `ref` of a message that may not validate, so even its error reply can echo it. */
export function refOf(message: unknown): string | undefined {
  const r = (message as { ref?: unknown } | null)?.ref;
  return typeof r === "string" && r.length <= 200 ? r : undefined;
}

/** A readable summary of why a message did not validate. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.slice(0, 3).map((i) => {
    const path = i.path.join(".");
    return path ? `${path}: ${i.message}` : i.message;
  }).join("; ");
}

const withRef = (ref: string | undefined) => (ref === undefined ? {} : { ref });

export const frames = {
  /** `subscription`: the stored subscription a `resume_device` resumed. */
  subscribed: (ref: string | undefined, sub: string, cursor: string, subscription?: string) =>
    JSON.stringify({
      type: "subscribed",
      ...withRef(ref),
      sub,
      cursor,
      ...(subscription === undefined ? {} : { subscription }),
    }),
  synced: (sub: string, cursor: string) => JSON.stringify({ type: "synced", sub, cursor }),
  unsubscribed: (ref: string | undefined, sub: string) =>
    JSON.stringify({ type: "unsubscribed", ...withRef(ref), sub }),
  pong: (ref: string | undefined) => JSON.stringify({ type: "pong", ...withRef(ref) }),
  error: (ref: string | undefined, code: WsErrorCode, message: string) =>
    JSON.stringify({ type: "error", ...withRef(ref), code, message }),
  /** Spliced, not re-serialised: the envelope JSON is shared by every subscriber it goes to. */
  change: (sub: string, cursor: string, envelopeJson: string, reason?: "moved_in" | "moved_out") =>
    `${changeHead(sub, cursor, reason)}${envelopeJson}}`,
};

/**
 * A `change` frame up to its envelope: `frames.change` is this, the envelope JSON, and "}" —
 * the parts a connection encodes straight into its write buffer.
 */
export function changeHead(sub: string, cursor: string, reason?: "moved_in" | "moved_out"): string {
  return `{"type":"change","sub":${JSON.stringify(sub)},"cursor":${JSON.stringify(cursor)}${
    reason ? `,"reason":"${reason}"` : ""
  },"change":`;
}
