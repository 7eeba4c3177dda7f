// sw.js: the chat page's service worker (scope /paliadin). Shows the notifications the server
// pushes (Web Push; the browser decrypts the payload {title, body, url, turn_id, kind}) and, on a
// click, focuses an open chat tab on that turn or opens it. It caches nothing and handles no
// fetches: the page always comes from the server.

const HOME = '/paliadin';

const CONVERSATION = /^\/paliadin\/c\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The chat page, or the chat page on one conversation (`/paliadin/c/<session_id>`). */
const isChat = (path) => path === HOME || CONVERSATION.test(path);

/**
 * Only our own chat page: a push can name a turn (`/paliadin/c/<session>#turn-<turn>`, or the
 * older `/paliadin?session=…&turn=…`), never another site or page.
 */
function safeUrl(raw) {
  try {
    const u = new URL(raw || HOME, self.location.origin);
    if (u.origin === self.location.origin && isChat(u.pathname)) return u.href;
  } catch (e) { /* fall through */ }
  return new URL(HOME, self.location.origin).href;
}

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let p = {};
  try { p = event.data ? event.data.json() : {}; } catch (e) { p = {}; }
  event.waitUntil((async () => {
    // A chat tab in front of the person shows the turn already.
    const wins = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    if (wins.some((c) => c.visibilityState === 'visible' && c.focused)) return;
    await self.registration.showNotification(String(p.title || 'Paliadin'), {
      body: String(p.body || ''),
      // Same tag as the page's own notification for the turn: one replaces the other.
      tag: `${p.kind || 'turn'}:${p.turn_id || ''}`,
      icon: '/assets/favicon.svg',
      data: { url: safeUrl(p.url) },
    });
  })());
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = safeUrl(event.notification.data && event.notification.data.url);
  event.waitUntil((async () => {
    const wins = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const tab = wins.find((c) => isChat(new URL(c.url).pathname));
    if (tab) {
      await tab.focus();
      tab.postMessage({ type: 'paliadin.open', url });
      return;
    }
    await self.clients.openWindow(url);
  })());
});
