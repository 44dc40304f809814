import assert from "node:assert/strict";
import { Registry } from "./metrics.ts";

Deno.test("registry renders counters, gauges and histograms in Prometheus text format", () => {
  const r = new Registry("test");
  const sent = r.counter("synchub_messages_sent_total", "Messages sent.");
  sent.inc({ table: "public.todos" });
  sent.inc({ table: "public.todos" }, 2);
  r.gauge("synchub_connections", "Open connections.").set(3);
  const lag = r.histogram("synchub_lag_seconds", "Lag.", [1, 10]);
  lag.observe(0.5);
  lag.observe(5);
  lag.observe(50);

  const text = r.render();
  assert.match(text, /# TYPE synchub_messages_sent_total counter/);
  assert.match(text, /synchub_messages_sent_total\{table="public.todos"\} 3/);
  assert.match(text, /synchub_connections 3/);
  assert.match(text, /synchub_lag_seconds_bucket\{le="1"\} 1/);
  assert.match(text, /synchub_lag_seconds_bucket\{le="10"\} 2/);
  assert.match(text, /synchub_lag_seconds_bucket\{le="\+Inf"\} 3/);
  assert.match(text, /synchub_lag_seconds_count 3/);
  assert.match(text, /process_resident_memory_bytes \d+/);
  assert.match(
    text,
    /synchub_build_info\{version="[^"]+",service="test",runtime="deno",runtime_version="[^"]+"\} 1/,
  );
  assert.match(text, /# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total \d/);
  assert.match(text, /process_heap_bytes [1-9]\d*/);
  assert.match(text, /process_heap_total_bytes [1-9]\d*/);
  assert.match(text, /process_external_memory_bytes \d+/);
  assert.match(text, /process_open_fds [1-9]\d*/);
  assert.match(text, /process_start_time_seconds 1\d{9}/);
});

Deno.test("registering a name twice returns the same metric; labels are escaped", () => {
  const r = new Registry("test");
  const a = r.counter("c_total", "c");
  assert.equal(r.counter("c_total", "c"), a);
  a.inc({ why: 'say "hi"\n' });
  assert.match(r.render(), /c_total\{why="say \\"hi\\"\\n"\} 1/);
});
