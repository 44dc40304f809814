/**
 * A connection's device subscriptions (SPEC §10): `resume_device` subscribes every stored
 * subscription of a device its token's holder owns; `ack` stores the cursor a device has
 * processed, so a later resume starts after it. Which gateway subscription is which stored one
 * is known here; the subscribing itself is the session's.
 */
import { decodePosition } from "../../lib/cursor.ts";
import { SyncError } from "../../lib/errors.ts";
import type { StoredSubscription } from "../../lib/postgres/devices.ts";
import { clientMessageSchema, describeIssues, type SubscribeMessage } from "./protocol.ts";

/** Where the gateway reads devices from (lib/postgres/devices.ts DeviceStore). */
export interface DeviceSource {
  /** The device's subscriptions; `not_found` when the device is not the owner's. */
  subscriptions(owner: string, deviceId: string): Promise<StoredSubscription[]>;
  ack(owner: string, subscriptionId: string, cursor: string): Promise<void>;
}

/** A stored subscription as the session subscribes it, or why it cannot be. */
export interface Resumable {
  readonly id: string;
  readonly subscribe: SubscribeMessage | SyncError;
}

export class DeviceLinks {
  /** Gateway subscription id → the stored subscription and its topic. */
  private readonly linked = new Map<string, { id: string; topic: string }>();
  private readonly resumed = new Set<string>();

  constructor(private readonly source: DeviceSource | undefined, private readonly owner: string) {}

  /** The device's stored subscriptions, once per connection. */
  async resume(deviceId: string, ref: string | undefined): Promise<Resumable[]> {
    if (!this.source) {
      throw new SyncError("unavailable", "this gateway serves no devices (it has no DATABASE_URL)");
    }
    const stored = await this.source.subscriptions(this.owner, deviceId);
    if (this.resumed.has(deviceId)) {
      throw new SyncError("bad_request", `device "${deviceId}" is already resumed here`);
    }
    this.resumed.add(deviceId);
    return stored.map((s) => {
      // Validated as a client's message would be: stored filters meet today's protocol.
      const message = clientMessageSchema.safeParse({
        type: "subscribe",
        ...(ref === undefined ? {} : { ref }),
        table: s.table,
        ...(s.where === null ? {} : { where: s.where }),
        since: s.cursor,
      });
      return {
        id: s.id,
        subscribe: message.success && message.data.type === "subscribe"
          ? message.data
          : new SyncError(
            "bad_request",
            message.success ? "not a subscription" : describeIssues(message.error),
          ),
      };
    });
  }

  link(sub: string, stored: string, topic: string): void {
    this.linked.set(sub, { id: stored, topic });
  }

  unlink(sub: string): void {
    this.linked.delete(sub);
  }

  /** Stores a cursor the client acknowledges for one of its resumed subscriptions. */
  async ack(sub: string, cursor: string, epoch: string): Promise<void> {
    const stored = this.linked.get(sub);
    if (!stored || !this.source) {
      throw new SyncError("not_found", `no device subscription "${sub}" on this connection`);
    }
    const position = decodePosition(cursor);
    if (position.epoch !== epoch || !position.offsets[stored.topic]) {
      throw new SyncError("bad_request", `the cursor is not one of subscription ${sub}`);
    }
    await this.source.ack(this.owner, stored.id, cursor);
  }
}
