/**
 * Devices and their stored subscriptions (SPEC §10), in the hub's schema. Everything is owned by
 * a token's `sub`: every read and write names its owner, and another owner's device or
 * subscription is reported as not found — the same answer as for one that does not exist.
 * The CRUD service manages them; the gateway resumes them and stores acknowledged cursors.
 */
import { UUID } from "../uuid.ts";
import { SyncError } from "../errors.ts";
import type { JsonValue } from "../envelope.ts";
import { fromPgError } from "./errors.ts";
import type { Pool } from "./pool.ts";

export interface Device {
  id: string;
  name: string;
  platform: string;
  created_at: string;
}

export interface StoredSubscription {
  id: string;
  device_id: string;
  /** `schema.table`, as the catalog names it. */
  table: string;
  where: Record<string, JsonValue> | null;
  /** Where it resumes: its creation's position until an acknowledgement moves it on. */
  cursor: string;
  created_at: string;
  acked_at: string | null;
}

export const MAX_DEVICES_PER_OWNER = 100;
export const MAX_SUBSCRIPTIONS_PER_DEVICE = 100;

const DEVICE_COLUMNS = `id, name, platform, to_json(created_at)#>>'{}' AS created_at`;
const SUBSCRIPTION_COLUMNS = `s.id, s.device_id, s.table_name AS table, s.filter AS where,
  s.cursor, to_json(s.created_at)#>>'{}' AS created_at, to_json(s.acked_at)#>>'{}' AS acked_at`;

export class DeviceStore {
  constructor(private readonly pool: Pool) {}

  async createDevice(owner: string, name: string, platform: string): Promise<Device> {
    const rows = await this.query<Device>(
      `INSERT INTO synchub.devices (owner, name, platform)
       SELECT $1, $2, $3 WHERE (SELECT count(*) FROM synchub.devices WHERE owner = $1) < $4
       RETURNING ${DEVICE_COLUMNS}`,
      [owner, name, platform, MAX_DEVICES_PER_OWNER],
    );
    if (!rows[0]) {
      // The request is fine; the account's state refuses it until a device is removed.
      throw new SyncError("conflict", `at most ${MAX_DEVICES_PER_OWNER} devices per owner`);
    }
    return rows[0];
  }

  async devices(owner: string): Promise<Device[]> {
    return await this.query<Device>(
      `SELECT ${DEVICE_COLUMNS} FROM synchub.devices WHERE owner = $1 ORDER BY created_at, id`,
      [owner],
    );
  }

  async device(owner: string, id: string): Promise<Device> {
    const [device] = UUID.test(id)
      ? await this.query<Device>(
        `SELECT ${DEVICE_COLUMNS} FROM synchub.devices WHERE id = $1 AND owner = $2`,
        [id, owner],
      )
      : [];
    if (!device) throw new SyncError("not_found", `no device "${id}"`);
    return device;
  }

  async deleteDevice(owner: string, id: string): Promise<Device> {
    const [device] = UUID.test(id)
      ? await this.query<Device>(
        `DELETE FROM synchub.devices WHERE id = $1 AND owner = $2 RETURNING ${DEVICE_COLUMNS}`,
        [id, owner],
      )
      : [];
    if (!device) throw new SyncError("not_found", `no device "${id}"`);
    return device;
  }

  async createSubscription(
    owner: string,
    sub: { device_id: string; table: string; where: Record<string, JsonValue> | null },
    cursor: string,
  ): Promise<StoredSubscription> {
    await this.device(owner, sub.device_id);
    const [created] = await this.query<StoredSubscription>(
      `WITH s AS (
         INSERT INTO synchub.device_subscriptions (device_id, table_name, filter, cursor)
         SELECT $1, $2, $3, $4
          WHERE (SELECT count(*) FROM synchub.device_subscriptions WHERE device_id = $1) < $5
         RETURNING *)
       SELECT ${SUBSCRIPTION_COLUMNS} FROM s`,
      [
        sub.device_id,
        sub.table,
        sub.where === null ? null : JSON.stringify(sub.where),
        cursor,
        MAX_SUBSCRIPTIONS_PER_DEVICE,
      ],
    );
    if (!created) {
      throw new SyncError(
        "conflict",
        `at most ${MAX_SUBSCRIPTIONS_PER_DEVICE} subscriptions per device`,
      );
    }
    return created;
  }

  /** The owner's subscriptions, of one device (not_found when it is not theirs) or of all. */
  async subscriptions(owner: string, deviceId?: string): Promise<StoredSubscription[]> {
    if (deviceId !== undefined) await this.device(owner, deviceId);
    return await this.query<StoredSubscription>(
      `SELECT ${SUBSCRIPTION_COLUMNS}
         FROM synchub.device_subscriptions s JOIN synchub.devices d ON d.id = s.device_id
        WHERE d.owner = $1 AND ($2::uuid IS NULL OR d.id = $2::uuid)
        ORDER BY s.created_at, s.id`,
      [owner, deviceId ?? null],
    );
  }

  async deleteSubscription(owner: string, id: string): Promise<StoredSubscription> {
    const [deleted] = UUID.test(id)
      ? await this.query<StoredSubscription>(
        `WITH s AS (
           DELETE FROM synchub.device_subscriptions s USING synchub.devices d
            WHERE s.id = $1 AND d.id = s.device_id AND d.owner = $2 RETURNING s.*)
         SELECT ${SUBSCRIPTION_COLUMNS} FROM s`,
        [id, owner],
      )
      : [];
    if (!deleted) throw new SyncError("not_found", `no subscription "${id}"`);
    return deleted;
  }

  /** Stores the cursor a device acknowledged: it resumes there next time. */
  async ack(owner: string, id: string, cursor: string): Promise<void> {
    const rows = await this.query(
      `UPDATE synchub.device_subscriptions s SET cursor = $3, acked_at = now()
         FROM synchub.devices d
        WHERE s.id = $1 AND d.id = s.device_id AND d.owner = $2 RETURNING s.id`,
      [id, owner, cursor],
    );
    if (rows.length === 0) throw new SyncError("not_found", `no subscription "${id}"`);
  }

  private async query<T>(text: string, params: unknown[]): Promise<T[]> {
    try {
      return (await this.pool.query(text, params)).rows as T[];
    } catch (err) {
      throw fromPgError(err);
    }
  }
}
