/**
 * The topic rule (SPEC §3), here and nowhere else: a topic per table,
 * `<prefix>.<source name>.<schema or db>.<table>`, plus the hub's own topics — the catalog the
 * listener publishes and the hub events — whose names have fewer parts, so no table topic can
 * take their name.
 */
import type { TableInfo } from "./catalog.ts";
import type { SourceInfo } from "./envelope.ts";

/** prefix → source → namespace → table → topic: looked up per change, so no key is built. */
const topics = new Map<string, Map<string, Map<string, Map<string, string>>>>();
let cached = 0;

/** The topic of a table: the same whether named by an envelope or by the catalog. */
export function tableTopic(
  prefix: string,
  table: { source: string; namespace: string; table: string },
): string {
  const byTable = level(level(level(topics, prefix), table.source), table.namespace);
  let topic = byTable.get(table.table);
  if (topic === undefined) {
    if (++cached > 10_000) {
      topics.clear();
      cached = 0;
    }
    // Kafka allows [A-Za-z0-9._-] in topic names; anything else becomes `_`.
    topic = [prefix, table.source, table.namespace, table.table]
      .map((part) => part.replace(/[^A-Za-z0-9_-]/g, "_"))
      .join(".");
    byTable.set(table.table, topic);
  }
  return topic;
}

function level<V>(map: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let next = map.get(key);
  if (next === undefined) map.set(key, next = new Map());
  return next;
}

/** The topic an envelope goes to. */
export function envelopeTopic(
  prefix: string,
  source: Pick<SourceInfo, "name" | "schema" | "db" | "table">,
): string {
  return tableTopic(prefix, {
    source: source.name,
    namespace: source.schema ?? source.db,
    table: source.table,
  });
}

/** The topic of a catalog table (its `schema` is the db for MySQL and MongoDB). */
export function catalogTableTopic(prefix: string, table: TableInfo): string {
  return tableTopic(prefix, { source: table.source, namespace: table.schema, table: table.name });
}

/** The compacted topic of table metadata the listener publishes (one record per table). */
export function catalogTopic(prefix: string): string {
  return `${prefix}._catalog`;
}

/** The topic of one kind of hub event (SPEC §10), e.g. `synchub.events.user_created`. */
export function eventTopic(prefix: string, type: string): string {
  return `${prefix}.events.${type.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

const tableTopics = new Map<string, Map<string, boolean>>();

/** True for the topics that carry change envelopes, false for the hub's own. */
export function isTableTopic(prefix: string, topic: string): boolean {
  const known = level(tableTopics, prefix);
  let is = known.get(topic);
  if (is === undefined) {
    if (known.size > 10_000) known.clear();
    is = topic.startsWith(`${prefix}.`) && topic.split(".").length === 4;
    known.set(topic, is);
  }
  return is;
}
