// Service worker of the phone scanner, scope /scan (served by server/scan with
// Service-Worker-Allowed: /scan). The server fills in VERSION (a hash of every cached file) and
// PRECACHE (the page, manifest, modules, decode worker, zxing-wasm + its .wasm, icons).
// Offline first: the cached copy answers at once (cache first, query ignored); API calls always
// go to the network and are never cached (they carry the token, the page keeps what it needs in
// IndexedDB). A new version installs in the background, takes over at once (skipWaiting +
// clients.claim: needed so the first visit is already controlled and reloads offline).
const VERSION = "__VERSION__";
const PRECACHE = ["__PRECACHE__"];
const CACHE = "jejak-scan-" + VERSION;

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(PRECACHE.map((url) => new Request(url, { cache: "reload" })));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("jejak-scan-") && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || url.pathname.startsWith("/api/")) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(event.request, { ignoreSearch: true });
    if (hit) return hit;
    return fetch(event.request);
  })());
});
