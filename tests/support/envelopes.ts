import type { Envelope } from "../../lib/envelope.ts";
import { VERSION } from "../../lib/version.ts";

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
      version: VERSION,
      connector: "postgresql",
      name: "pg",
      db: "synchub",
      schema: "public",
      table: "todos",
      position: "0000000001000000:0000000001",
      txId: "750",
      ts_ms: 1_700_000_000_000,
      ts_us: 1_700_000_000_000_123,
      ts_ns: 1_700_000_000_000_123_000,
      snapshot: "false",
    },
    transaction: { id: "750", total_order: 1, data_collection_order: 1 },
    ts_ms: 1_700_000_000_001,
    ts_us: 1_700_000_000_001_456,
    ts_ns: 1_700_000_000_001_456_000,
    ...overrides,
  };
}
