/**
 * Client side of the WebSocket micro-bench: opens N raw clients (bench/raw_ws.ts, small read
 * buffers) to `url`, prints READY, records for each text frame its round and the time from the
 * server's send stamp to receipt, and on a `dump` stdin line prints them as one JSON line.
 */
import { RawWsClient } from "./raw_ws.ts";

const [url, countText] = Deno.args;
const count = Number(countText);
const decoder = new TextDecoder();
const receipts: [number, number][] = [];
const clients: RawWsClient[] = [];

const onText = (payload: Uint8Array, receivedAt: number) => {
  // {"type":"change","r":<round>,"t":<stamp>,"pad":"…"}: read the numbers without parsing all.
  const text = decoder.decode(payload.subarray(0, 60));
  const r = /"r":(\d+),"t":([\d.]+)/.exec(text);
  if (r) receipts.push([Number(r[1]), receivedAt - Number(r[2])]);
};

for (let i = 0; i < count; i += 100) {
  clients.push(
    ...await Promise.all(
      Array.from(
        { length: Math.min(100, count - i) },
        () => RawWsClient.connect(url!, onText, { readChunkBytes: 4096 }),
      ),
    ),
  );
}
console.log("READY");

for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  if (chunk.includes("dump")) {
    console.log(JSON.stringify({ receipts }));
    for (const c of clients) c.close();
    Deno.exit(0);
  }
}
