// Keeps the demo working offline: its files are cached on install and served from the cache when
// the network fails (network first, so a fresh version is used whenever the hub is reachable).
const CACHE = "synchub-demo-v1";
const FILES = ["/demo/", "/demo/app.js", "/demo/style.css", "/sdk/synchub.js"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  const file = url.pathname === "/demo/index.html" ? "/demo/" : url.pathname;
  if (!FILES.includes(file)) return; // the API and the socket are the SDK's business
  event.respondWith(
    fetch(event.request).then((res) => {
      if (res.ok) {
        const copy = res.clone();
        caches.open(CACHE).then((c) => c.put(file, copy));
      }
      return res;
    }).catch(async () => (await caches.match(file)) ?? Response.error()),
  );
});
