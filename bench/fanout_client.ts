/**
 * A fan-out worker: opens N connections, subscribes each, prints READY, then records when each
 * connection receives each change; after `rounds` changes on every connection it prints the
 * receipts as one JSON line and exits.
 */
const [url, token, countText, roundsText] = Deno.args;
const count = Number(countText), rounds = Number(roundsText);
const now = () => performance.timeOrigin + performance.now();
const receipts: [number, number][] = [];
let complete = 0;
const sockets: WebSocket[] = [];

function open(): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}?token=${token}`);
    let seen = 0;
    ws.onopen = () =>
      ws.send(JSON.stringify({ type: "subscribe", ref: "s", table: "public.bench_fanout" }));
    ws.onmessage = (e) => {
      const t = now();
      const text = e.data as string;
      if (text.startsWith('{"type":"subscribed"')) return resolve();
      if (!text.startsWith('{"type":"change"')) return reject(new Error(text));
      // The row id, without parsing the frame: this process shares 2 cores with the gateway.
      const at = text.indexOf('"key":{"id":');
      receipts.push([parseInt(text.slice(at + 12, at + 32), 10), t]);
      if (++seen === rounds && ++complete === count) finish();
    };
    ws.onerror = () => reject(new Error("connection failed"));
    sockets.push(ws);
  });
}

function finish() {
  console.log(JSON.stringify({ receipts }));
  Deno.exit(0);
}

for (let i = 0; i < count; i += 100) {
  await Promise.all(Array.from({ length: Math.min(100, count - i) }, open));
}
console.log("READY");
setTimeout(finish, 120_000); // report what arrived, even if some connection missed a change
