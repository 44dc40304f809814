/**
 * Cursors made by the CRUD service, from the bus's offsets. The cursor of a snapshot of some tables (a checkpoint, bucket data): the bus offsets of their
 * topics, taken BEFORE the snapshot, and the snapshot's visibility.
 *
 * Why that is exact: a change before those offsets was published — so committed — before the
 * snapshot began, and the snapshot holds it. A change after them either committed before the
 * snapshot too (published later: the visibility says so, and a subscription skips it) or did not
 * (it is delivered). No gap, no duplicate, whatever the listener's lag.
 */
import type { Bus } from "../../../lib/bus/bus.ts";
import type { TableInfo } from "../../../lib/catalog.ts";
import { encodeCursor, encodePosition, type Offsets } from "../../../lib/cursor.ts";
import { SyncError } from "../../../lib/errors.ts";
import type { Visibility } from "../../../lib/snapshot.ts";
import { catalogTableTopic } from "../../../lib/topics.ts";

export class BusPositions {
  constructor(private readonly bus: Bus, private readonly topicPrefix: string) {}

  /** The bus's epoch (the log its offsets belong to). */
  get epoch(): string {
    return this.bus.epoch;
  }

  /** Where each table's topic ends now (made first if nobody has changed the table yet). */
  async offsets(tables: readonly TableInfo[]): Promise<Record<string, Offsets>> {
    try {
      const out: Record<string, Offsets> = {};
      for (const table of tables) {
        const topic = catalogTableTopic(this.topicPrefix, table);
        await this.bus.ensureTopic(topic);
        out[topic] = (await this.bus.range(topic)).end;
      }
      return out;
    } catch (err) {
      if (err instanceof SyncError && err.code !== "internal") throw err;
      throw new SyncError("unavailable", "the bus is unreachable; retry shortly");
    }
  }

  /** The cursor of a snapshot taken after `offsets` were. */
  cursor(offsets: Record<string, Offsets>, visibility: Visibility): string {
    return encodePosition({ epoch: this.bus.epoch, offsets, visibility });
  }

  /** A cursor of the table from now on: every change published from here. */
  async now(table: TableInfo): Promise<string> {
    const [[topic, offsets]] = Object.entries(await this.offsets([table])) as [[string, Offsets]];
    return encodeCursor({ epoch: this.bus.epoch, topic, offsets });
  }
}
