// The service worker: keeps the app's shell (the page, styles, scripts, icons) so that the
// dashboard opens from a phone's home screen, and never anything else: API answers, OTLP,
// metrics and login links always go to the network and are never stored. Each shell file comes
// from the network when it can (an upgraded clawmetry's files arrive at once, never mixed with
// old ones) and from the cache when the network fails.
const CACHE = 'clawmetry-shell-v1';
const SHELL = ['/', '/app.js', '/app.css', '/js/util.js', '/js/loader.js', '/js/login.js', '/favicon.svg'];
const NEVER = ['/api/', '/v1/', '/metrics', '/login/'];

self.addEventListener('install', (e) => {
  e.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (e) => {
  e.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (e) => {
  const req = e.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  if (NEVER.some((p) => url.pathname.startsWith(p))) return;
  e.respondWith(
    fetch(req)
      .then((res) => {
        if (res.ok && res.type === 'basic') {
          const copy = res.clone();
          caches.open(CACHE).then((c) => c.put(req.mode === 'navigate' ? '/' : req, copy));
        }
        return res;
      })
      .catch(() => caches.match(req.mode === 'navigate' ? '/' : req).then((hit) => hit || Response.error())),
  );
});
