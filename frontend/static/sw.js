// Service worker of the report form and the workbench: after one online visit, /report (and /public/report) and
// the workbench / (where a patrol is started and ended, and visits are recorded) open without network.
// Served as /sw.js so that its scope is the whole site, but it answers only the report pages, their assets and the
// few reads they need; every other request goes to the network untouched. Reports themselves are not queued
// here: the page keeps them in IndexedDB (outbox.js) and sends them when the network returns.
const CACHE = "gridmap-report-v5";
const PAGES = ["/report", "/public/report", "/"];
const ASSETS = [
  "/static/report.js", "/static/codes.js", "/static/outbox.js", "/static/patrol.js", "/static/workbench.js", "/static/workbench.css",
  "/static/fieldwork.js", "/static/photos.js", "/static/report.css", "/static/report-icons.svg", "/static/i18n.js",
  "/static/app.css", "/static/vendor/leaflet/dist/leaflet.js", "/static/vendor/leaflet/dist/leaflet.css",
  "/static/vendor/leaflet/dist/images/marker-icon.png", "/static/vendor/leaflet/dist/images/marker-icon-2x.png",
  "/static/vendor/leaflet/dist/images/marker-shadow.png",
];
// Reads the form makes: fresh when online, the last answer when not (the backdrop under one key, whatever its bbox).
const READS = ["/api/categories", "/api/me", "/api/map-config", "/open311/v2/services.json", "/public/api/grids",
  "/public/api/backdrop", "/static/shell.js", "/api/visit-kinds", "/api/visits/buildings", "/api/visits/route"];

async function keep(cache, url) {
  try {
    const response = await fetch(url, {credentials: "same-origin"});
    if (response.ok && !response.redirected) await cache.put(url, response);
  } catch (e) { /* cached on the next visit */ }
}

self.addEventListener("install", event => {
  // Pages one by one: /report answers only a signed-in user (a visitor gets the login page, which is not kept).
  // The reads too: the page made them before this worker controlled it.
  const first = [...ASSETS, ...PAGES, ...READS.filter(url => url !== "/public/api/backdrop")];
  event.waitUntil(caches.open(CACHE).then(cache => Promise.all(first.map(url => keep(cache, url))))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", event => {
  event.waitUntil(caches.keys()
    .then(keys => Promise.all(keys.filter(k => k.startsWith("gridmap-report-") && k !== CACHE).map(k => caches.delete(k))))
    .then(() => self.clients.claim()));
});

async function networkFirst(request, key) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected) await cache.put(key, response.clone());
    return response;
  } catch (e) {
    const cached = await cache.match(key);
    if (cached) return cached;
    throw e;
  }
}

self.addEventListener("fetch", event => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  // Network first for all of them: online, every page (other pages share i18n.js, app.css, Leaflet) gets today's
  // files, never a copy kept from an older release; the cache answers only when the network does not.
  if ([...PAGES, ...ASSETS, ...READS].includes(url.pathname)) event.respondWith(networkFirst(request, url.pathname));
});
