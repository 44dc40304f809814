/**
 * The gateway's catalog, built from the records the listener publishes on the bus's catalog topic
 * — the gateway never opens a source database. Loaded from the topic's history at start, then kept
 * current by the live records the hub hands over. A table it does not know yet is looked up again
 * once the gateway has read everything the topic held when asked (a table published a moment ago).
 */
import type { Bus, BusRecord } from "../../lib/bus/bus.ts";
import {
  Catalog,
  type CatalogSource,
  parseTableRecord,
  type TableInfo,
} from "../../lib/catalog.ts";
import type { Offsets } from "../../lib/cursor.ts";
import type { Logger } from "../../lib/log.ts";
import { sleep } from "../../lib/retry.ts";

export class BusCatalog implements CatalogSource {
  private readonly entries = new Map<string, TableInfo>();
  private catalog = new Catalog([]);
  private byTopic = new Map<string, TableInfo>();
  /** The next catalog offset to apply. */
  private next = 0;

  constructor(
    private readonly bus: Bus,
    readonly topic: string,
    private readonly log: Logger,
    /** A table's topic, for `tableOfTopic`. */
    private readonly topicOf: (table: TableInfo) => string,
    /** Called for each table added or changed (the gateway logs its effective access rule). */
    private readonly onTable: (table: TableInfo) => void = () => {},
    private readonly waitMs = 3_000,
  ) {}

  /** The table whose changes a topic carries. */
  tableOfTopic(topic: string): TableInfo | undefined {
    return this.byTopic.get(topic);
  }

  /** Applies the topic's history up to `end` (where following it starts). */
  async load(end: Offsets): Promise<void> {
    const { start } = await this.bus.range(this.topic);
    for await (const records of this.bus.read(this.topic, start, end)) this.apply(records);
    this.next = Math.max(this.next, end[0] ?? 0);
  }

  apply(records: readonly BusRecord[]): void {
    let changed = false;
    for (const r of records) {
      if (r.offset < this.next) continue;
      this.next = r.offset + 1;
      const table = parseTableRecord(r.value);
      if (table) {
        this.entries.set(r.key, table);
        this.onTable(table);
      } else if (r.value === null) this.entries.delete(r.key);
      else {
        this.log.warn("skipping a catalog record that is not a table", { offset: r.offset });
        continue;
      }
      changed = true;
    }
    if (changed) {
      this.catalog = new Catalog([...this.entries.values()]);
      this.byTopic = new Map([...this.entries.values()].map((t) => [this.topicOf(t), t]));
    }
  }

  get(): Promise<Catalog> {
    return Promise.resolve(this.catalog);
  }

  async table(name: string): Promise<TableInfo | undefined> {
    const known = this.catalog.get(name);
    if (known) return known;
    // Perhaps published a moment ago: wait until we have read what the topic holds now.
    const end = (await this.bus.range(this.topic).catch(() => ({ end: [] as number[] }))).end[0];
    const deadline = Date.now() + this.waitMs;
    while (end !== undefined && this.next < end && Date.now() < deadline) await sleep(10);
    return this.catalog.get(name);
  }
}
