// Service worker: keeps the app shell so the client opens offline (it then shows the
// conversations cached in IndexedDB). Network first, so a new server's client is used at once;
// the API (the event stream included), the WebSocket and attachments are never cached here.
const CACHE = 'confab-shell-v2';
const SHELL = [
  '/', '/app.css', '/manifest.webmanifest', '/icons/icon-192.png', '/icons/icon-512.png', '/icons/attach.svg', '/icons/pin.svg',
  '/i18n/en.json', '/i18n/hi.json', '/i18n/es.json',
  '/js/main.js', '/js/i18n.js', '/js/store.js', '/js/db.js', '/js/api.js', '/js/connection.js',
  '/js/outbox.js', '/js/ui.js', '/js/login.js', '/js/sidebar.js', '/js/conversation.js',
  '/js/composer.js', '/js/dialogs.js', '/js/link-ws.js', '/js/link-sse.js',
];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (e) => {
  const req = e.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== location.origin) return;
  if (url.pathname.startsWith('/api/') || url.pathname === '/ws') return;
  const key = req.mode === 'navigate' ? '/' : url.pathname;
  if (!SHELL.includes(key)) return;
  e.respondWith(fetch(req).then((res) => {
    if (res.ok) {
      const copy = res.clone();
      caches.open(CACHE).then((c) => c.put(key, copy));
    }
    return res;
  }).catch(() => caches.match(key).then((hit) => hit || Response.error())));
});
