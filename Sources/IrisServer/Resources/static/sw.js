// Iris's service worker (served at /sw.js): keeps the contributor page (/l/<code>) and the
// static files in a cache so the page opens without a network. Nothing else is cached:
// signed-in pages hold what only their user may see, and uploads go to the network (the page
// queues them in IndexedDB while it is away; see common.js, "offline upload queue").
"use strict";
// A new name whenever SHELL changes: activating the worker deletes every other cache, so the
// files of an older shell (v1 held app.js, the script before the page modules) go with it.
const CACHE = "iris-shell-v2";
// What the contributor page needs to open offline: its stylesheet, its module (link.js) and
// every module that one imports (common.js), the manifest and the icons.
const SHELL = ["/static/app.css", "/static/link.js", "/static/common.js", "/manifest.webmanifest",
  "/static/icon-192.png", "/static/icon-512.png"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((name) => name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()));
});

function cacheable(request, url) {
  if (request.method !== "GET" || url.origin !== self.location.origin) return false;
  if (request.mode === "navigate") return url.pathname.startsWith("/l/");
  return url.pathname.startsWith("/static/") || url.pathname === "/manifest.webmanifest";
}

// A contributor page asks to be kept (its first visit came before this worker controlled it).
self.addEventListener("message", (event) => {
  const path = event.data && event.data.keep;
  if (typeof path === "string" && path.startsWith("/l/") && path.length < 200) {
    event.waitUntil(caches.open(CACHE).then((cache) => cache.add(path)).catch(() => {}));
  }
});

// The network first (a page is always current when it can be), the cache when it cannot.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (!cacheable(event.request, url)) return;
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(event.request, copy));
        }
        return response;
      })
      .catch(() => caches.match(event.request).then((hit) => hit ||
        new Response("You are offline, and this page was not opened here before.",
          { status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" } }))));
});
