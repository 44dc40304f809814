import assert from "node:assert/strict";
import type { Bus, BusMessage } from "../../lib/bus/bus.ts";
import { MemoryBus } from "../../lib/bus/memory_bus.ts";
import { silentLogger } from "../../lib/log.ts";
import { Registry } from "../../lib/metrics.ts";
import { sampleEnvelope } from "../../tests/support/envelopes.ts";
import { runPipeline } from "./pipeline.ts";
import type { Source, SourceBatch } from "./source.ts";

/** A scripted source: yields the given batches, records what it is told to confirm. */
class ScriptedSource implements Source {
  readonly name = "scripted";
  readonly connector = "postgresql" as const;
  readonly confirmed: string[] = [];
  constructor(private readonly batches: SourceBatch[]) {}
  ready() {
    return true;
  }
  tables() {
    return Promise.resolve([]);
  }
  confirm(checkpoint: string) {
    this.confirmed.push(checkpoint);
    return Promise.resolve();
  }
  async *stream(signal: AbortSignal) {
    for (const b of this.batches) {
      if (signal.aborted) return;
      yield b;
      await new Promise((r) => setTimeout(r, 0));
    }
  }
}

const batch = (n: number): SourceBatch => ({
  envelopes: [sampleEnvelope({ id: `e${n}`, key: { id: `k${n}` } })],
  checkpoint: String(n).padStart(4, "0"),
});

function metrics() {
  const r = new Registry("t");
  return {
    envelopes: r.counter("e", "e"),
    batches: r.counter("b", "b"),
    oversize: r.counter("o", "o"),
    lag: r.histogram("l", "l"),
  };
}

Deno.test("every batch is published, then confirmed in order", async () => {
  const bus = new MemoryBus({ retentionMs: 60_000, maxBytes: 1 << 20 });
  const source = new ScriptedSource([
    batch(1),
    batch(2),
    { envelopes: [], checkpoint: "0003" },
    batch(4),
  ]);
  await runPipeline(
    { source, bus, topicPrefix: "synchub", log: silentLogger, metrics: metrics() },
    new AbortController().signal,
  );
  assert.deepEqual(source.confirmed, ["0001", "0002", "0003", "0004"]);
  const { end } = await bus.range("synchub.pg.public.todos");
  assert.deepEqual(end, [3]);
});

Deno.test("a batch is confirmed only after it and every earlier batch are on the bus", async () => {
  // Publishes complete out of order; confirmations must not.
  const releases: (() => void)[] = [];
  const bus = {
    publish: (_: readonly BusMessage[]) => new Promise<void>((r) => releases.push(r)),
  } as unknown as Bus;
  const source = new ScriptedSource([batch(1), batch(2), batch(3)]);
  const done = runPipeline(
    { source, bus, topicPrefix: "synchub", log: silentLogger, metrics: metrics() },
    new AbortController().signal,
  );
  while (releases.length < 3) await new Promise((r) => setTimeout(r, 1));
  releases[2]!();
  releases[1]!();
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(source.confirmed, [], "batch 2 and 3 confirmed before batch 1 was on the bus");
  releases[0]!();
  await done;
  assert.deepEqual(source.confirmed, ["0001", "0002", "0003"]);
});

Deno.test("a failed publish stops the pipeline and nothing after it is confirmed", async () => {
  let calls = 0;
  const bus = {
    publish: () => ++calls === 2 ? Promise.reject(new Error("broker gone")) : Promise.resolve(),
  } as unknown as Bus;
  const source = new ScriptedSource([batch(1), batch(2), batch(3), batch(4)]);
  await assert.rejects(
    runPipeline(
      { source, bus, topicPrefix: "synchub", log: silentLogger, metrics: metrics() },
      new AbortController().signal,
    ),
    /broker gone/,
  );
  assert.deepEqual(source.confirmed, ["0001"]);
});
