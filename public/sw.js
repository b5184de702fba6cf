// HP-ECMO service worker (template). `cargo xtask service-worker`, run by Trunk
// after each release build, writes the real one into the build with the build's
// own file list and a version hashed from their contents.
//
// - The app shell is precached whole at install, so the app starts with no network.
// - No skipWaiting at install: a new version waits until the user accepts the
//   update (the page posts SKIP_WAITING), so a half-finished form is never reloaded
//   away and a failed download never replaces a working version.
// - Old caches are deleted only once the new version is complete and active.
// - /api/ is never intercepted: sync talks to the server or fails, visibly.
// - Nor is /console: the coordinator console is online only, with its own build.
const VERSION = "dev";
const PRECACHE = [];
const CACHE = `hp-ecmo-${VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(PRECACHE)));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(
        names
          .filter((name) => name.startsWith("hp-ecmo-") && name !== CACHE)
          .map((name) => caches.delete(name)),
      );
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "SKIP_WAITING") self.skipWaiting();
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/")) return;
  // The coordinator console is its own online-only app, never this shell.
  if (url.pathname === "/console" || url.pathname.startsWith("/console/")) return;
  // Every route of the app is the same shell: answer navigations with it, from
  // the cache first, so the version on screen only changes when the user accepts.
  const key = request.mode === "navigate" ? "/index.html" : request;
  event.respondWith(
    caches.open(CACHE).then(async (cache) => (await cache.match(key)) || fetch(request)),
  );
});
