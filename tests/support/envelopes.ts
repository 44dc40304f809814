import type { Envelope } from "../../lib/envelope.ts";

/** A valid create envelope for public.todos; override any field. */
export function sampleEnvelope(overrides: Partial<Envelope> = {}): Envelope {
  return {
    id: "pg:0000000001000000:0000000001",
    op: "c",
    before: null,
    after: { id: "a", title: "x", bucket: "b1" },
    key: { id: "a" },
    changed: null,
    bucket: "b1",
    source: {
      connector: "postgres",
      name: "pg",
      db: "synchub",
      schema: "public",
      table: "todos",
      position: "0000000001000000:0000000001",
      txId: "750",
      ts_ms: 1_700_000_000_000,
      snapshot: false,
    },
    transaction: { id: "750", total_order: 1, data_collection_order: 1 },
    ts_ms: 1_700_000_000_001,
    ...overrides,
  };
}
