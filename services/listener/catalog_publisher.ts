/**
 * The listener is the one owner of source metadata: it publishes each captured table's catalog
 * entry on the bus's compacted catalog topic (one record per table; a tombstone when a table is
 * gone), and makes sure each table's topic exists, so a gateway can follow and serve the table
 * before anything has changed in it.
 */
import type { Bus } from "../../lib/bus/bus.ts";
import { catalogKey, type TableInfo, tableRecord } from "../../lib/catalog.ts";
import type { Logger } from "../../lib/log.ts";
import { catalogTableTopic, catalogTopic } from "../../lib/topics.ts";
import type { Source } from "./source.ts";

export class CatalogPublisher {
  /** What the catalog topic holds for each of our sources' tables: key → record JSON. */
  private readonly published = new Map<string, Map<string, string>>();
  private loaded: Promise<void> | undefined;
  /** Each source's tables as last read, by `schema.table` (or `db.table`). */
  private readonly tables = new Map<string, ReadonlyMap<string, TableInfo>>();

  constructor(
    private readonly bus: Bus,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}

  /**
   * Reads the source's tables and publishes what differs from the catalog topic: new or changed
   * tables, and tombstones for tables the source no longer has. Throws when the source's database
   * cannot be read (nothing is tombstoned then).
   */
  async publish(source: Source): Promise<void> {
    await (this.loaded ??= this.loadPublished().catch((err) => {
      this.loaded = undefined;
      throw err;
    }));
    const snapshots = source.snapshots !== undefined;
    const tables = (await source.tables()).map((t) => ({ ...t, snapshots }));
    this.tables.set(source.name, new Map(tables.map((t) => [t.qualified, t])));
    const mine = this.published.get(source.name) ?? new Map<string, string>();
    const now = new Map<string, string>(
      tables.map((t) => [catalogKey(t), JSON.stringify(tableRecord(t))]),
    );
    const changed = tables.filter((t) => mine.get(catalogKey(t)) !== now.get(catalogKey(t)));
    const gone = [...mine.keys()].filter((k) => !now.has(k));
    if (changed.length === 0 && gone.length === 0) return;
    for (const t of changed) await this.bus.ensureTopic(catalogTableTopic(this.prefix, t));
    const topic = catalogTopic(this.prefix);
    await this.bus.publish([
      ...changed.map((t) => ({ topic, key: catalogKey(t), value: now.get(catalogKey(t))! })),
      ...gone.map((key) => ({ topic, key, value: null })),
    ]);
    this.published.set(source.name, now);
    this.log.info("published the catalog", {
      source: source.name,
      tables: changed.map((t: TableInfo) => t.qualified),
      removed: gone.length,
    });
  }

  /** A table of a source as last read (for typed bus records); undefined when not known yet. */
  tableOf(source: string, qualified: string): TableInfo | undefined {
    return this.tables.get(source)?.get(qualified);
  }

  /** The records already on the topic (an earlier run's), so a vanished table gets its tombstone. */
  private async loadPublished(): Promise<void> {
    const topic = catalogTopic(this.prefix);
    await this.bus.ensureTopic(topic, { compacted: true });
    const { start, end } = await this.bus.range(topic);
    for await (const records of this.bus.read(topic, start, end)) {
      for (const r of records) {
        let source: string;
        try {
          [source] = JSON.parse(r.key) as [string, string];
        } catch {
          continue; // not a record of ours
        }
        let mine = this.published.get(source);
        if (!mine) this.published.set(source, mine = new Map());
        if (r.value === null) mine.delete(r.key);
        else mine.set(r.key, r.value);
      }
    }
  }
}
