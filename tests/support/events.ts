/** Hub events (SPEC §10) as a test reads them back from the bus. */
import type { Bus } from "../../lib/bus/bus.ts";
import type { EventType } from "../../lib/events.ts";
import { eventTopic } from "../../lib/topics.ts";
import { waitFor } from "./wait.ts";

/** Every event of a type on the bus (their JSON), once there are at least `n`. */
export async function eventsOf(bus: Bus, prefix: string, type: EventType, n: number) {
  const topic = eventTopic(prefix, type);
  return await waitFor(async () => {
    const range = await bus.range(topic).catch(() => undefined);
    if (!range || range.end.reduce((a, b) => a + b, 0) < n) return undefined;
    const raw: string[] = [];
    for await (const batch of bus.read(topic, range.start, range.end)) {
      for (const r of batch) raw.push(r.value!);
    }
    return raw;
  }, `${n} ${type} event(s)`);
}
