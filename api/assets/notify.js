// notify.js: notifications for the chat page. The header's Notifications toggle subscribes this
// browser to Web Push (service worker /sw.js, the server's VAPID key), so finished, failed and
// waiting turns reach the owner with the page closed. While the page is open but hidden, it
// shows the same notification itself (same tag: one replaces the other) and counts unseen
// events in the title: "(2) Paliadin".

import { ERRORS } from './view.js';

const KEY = 'paliadin.notify'; // {on: boolean, id: the server's subscription id}
const SCOPE = '/paliadin';
const TITLE = document.title;

let unseen = 0;
let registration = null;
let button = null;
let call = null; // chat.js's api(method, path, body)
let say = () => {};

function saved() {
  try { return JSON.parse(localStorage.getItem(KEY)) || {}; } catch (e) { return {}; }
}
function save(v) {
  try { localStorage.setItem(KEY, JSON.stringify(v)); } catch (e) { /* not remembered */ }
}

const supported = () => 'Notification' in window;
const pushable = () => registration && 'PushManager' in window;
const on = () => saved().on === true && supported() && Notification.permission === 'granted';

function render() {
  const state = on();
  button.setAttribute('aria-pressed', String(state));
  button.title = state ? 'Notifications: on' : 'Notifications: off';
  button.dataset.push = state && saved().id ? 'on' : 'off';
}

function keyBytes(b64url) {
  const s = atob(b64url.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

function sameKey(sub, key) {
  const k = sub.options && sub.options.applicationServerKey;
  if (!k) return false;
  const a = new Uint8Array(k);
  return a.length === key.length && a.every((x, i) => x === key[i]);
}

/** `promise`, or a rejection after `ms` (a push service that cannot be reached never answers). */
function bounded(promise, ms) {
  let timer = 0;
  const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Subscribes this browser (or refreshes its subscription) and tells the server; true if stored. */
async function subscribe() {
  if (!pushable()) return false;
  const { status, data } = await call('GET', '/api/paliadin/push/key');
  if (status !== 200) return false;
  const key = keyBytes(data.public_key);
  let sub = await registration.pushManager.getSubscription();
  if (sub && !sameKey(sub, key)) { await sub.unsubscribe(); sub = null; }
  if (!sub) sub = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  const res = await call('POST', '/api/paliadin/push/subscriptions', sub.toJSON());
  if (res.status !== 200) {
    say((res.data && res.data.message) || 'The server did not accept this browser.');
    return false;
  }
  save({ on: true, id: res.data.id });
  return true;
}

async function turnOn() {
  if ((await Notification.requestPermission()) !== 'granted') {
    say('Notifications are blocked for this site in the browser settings.');
    return;
  }
  save({ on: true });
  render(); // in-page notifications work from here; the push subscription may take a while
  let pushed = false;
  try { pushed = await bounded(subscribe(), 15000); } catch (e) { pushed = false; }
  if (!pushed) say('Notifications show while this page is open (this browser cannot receive pushes).');
}

async function turnOff() {
  const { id } = saved();
  save({ on: false });
  if (id) await call('DELETE', `/api/paliadin/push/subscriptions/${id}`).catch(() => {});
  try {
    const sub = pushable() && await registration.pushManager.getSubscription();
    if (sub) await sub.unsubscribe();
  } catch (e) { /* already gone */ }
}

/** Wires the toggle; `api` and `toast` are chat.js's; `opened(url)` handles a notification click. */
export function setupNotifications(toggle, api, toast, opened) {
  button = toggle;
  call = api;
  say = toast;
  if (!supported()) { button.hidden = true; return; }
  button.hidden = false;
  render();
  button.addEventListener('click', async () => {
    button.disabled = true;
    try { await (on() ? turnOff() : turnOn()); } finally { button.disabled = false; render(); }
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) { unseen = 0; document.title = TITLE; }
  });
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.addEventListener('message', (e) => {
    if (e.data && e.data.type === 'paliadin.open') opened(e.data.url);
  });
  navigator.serviceWorker.register('/sw.js', { scope: SCOPE }).then(async (r) => {
    registration = r;
    button.dataset.worker = 'ready';
    // Already on: refresh the server's copy (keys rotate; a 410 may have removed it).
    if (on()) await bounded(subscribe(), 15000).catch(() => false);
    render();
  }).catch(() => { button.dataset.worker = 'failed'; });
}

function firstLine(text) {
  const line = (text || '').split('\n').map((l) => l.trim().replace(/^#+\s*/, '')).find((l) => l) || '';
  return line.length > 80 ? `${line.slice(0, 80)}…` : line;
}

/** A turn finished (`end`), failed (`error`) or waits for the owner (`permission`). */
export function turnEvent(kind, turnId, sessionId, data) {
  if (!document.hidden) return;
  unseen += 1;
  document.title = `(${unseen}) ${TITLE}`;
  if (!on()) return;
  const [title, body] = kind === 'end' ? ['Paliadin replied', firstLine(data.text)]
    : kind === 'error' ? ['Paliadin could not finish', ERRORS[data.code] || ERRORS.upstream_error]
      : ['Paliadin is waiting for you', `Asks to use ${data.tool}`];
  const url = `${SCOPE}/c/${sessionId}#turn-${turnId}`;
  const options = { body, tag: `${kind}:${turnId}`, icon: '/assets/favicon.svg', data: { url } };
  if (registration) {
    registration.showNotification(title, options).catch(() => {});
  } else {
    try { new Notification(title, options); } catch (e) { /* not allowed here */ }
  }
}
