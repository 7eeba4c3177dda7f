// conversations.js: the conversations drawer of the chat page (a side panel on a wide screen,
// a drawer over the thread on a phone). Lists the owner's conversations newest first from
// GET /api/paliadin/conversations, with their state (running, waiting for you, queued, idle,
// stopped; read again while the drawer is open) and agent window, searches their own messages
// and replies, pages with "Show more", hands a chosen conversation to the page, and deletes one (after a
// confirmation: DELETE /api/paliadin/conversations/{id} forgets its turns for good).

import { el } from './view.js';

/** The states a conversation is in (docs/web.md, "Conversations"), as words: never colour only. */
const STATES = {
  running: 'Running',
  waiting: 'Waiting for you',
  queued: 'Queued',
  idle: 'Idle',
  stopped: 'Stopped',
};
/** What each state means, for the state's tooltip and for screen readers. */
const STATE_HINTS = {
  running: 'A turn is running',
  waiting: 'A turn waits for your permission',
  queued: 'A turn waits to run',
  idle: 'Its agent is ready for your next message',
  stopped: 'Its agent was stopped; your next message resumes it',
};
/** While the drawer is open its states are read again this often. */
const REFRESH_MS = 5000;
const SEARCH_DELAY_MS = 250;

/**
 * Wires the drawer. `api(method, path)` is the page's fetch helper; `onSelect(session_id)`
 * loads a conversation; `current()` is the session shown now (marked in the list);
 * `onForgotten(session_id)` is told of a deleted one; `toast` and `announce` tell the person.
 */
export function setupConversations({ api, onSelect, current, onForgotten, toast, announce }) {
  const $ = (id) => document.getElementById(id);
  const drawer = $('convos');
  const toggle = $('convos-toggle');
  const list = $('convos-list');
  const search = $('convos-search');
  const more = $('convos-more');
  const empty = $('convos-empty');
  let next = null;
  let query = '';
  let timer = 0;
  let generation = 0;

  function item(c) {
    const li = el('li', 'convo');
    const b = el('button', 'convo-button');
    b.type = 'button';
    b.dataset.session = c.session_id;
    b.dataset.seen = [c.state, c.last_failed, c.last_activity, c.window && c.window.host].join(' ');
    if (c.session_id === current()) b.setAttribute('aria-current', 'true');
    const title = el('span', 'convo-title', c.title || '(no message)');
    const meta = el('span', 'convo-meta');
    const state = el('span', `convo-state ${c.state}`, STATES[c.state] || c.state);
    state.dataset.state = c.state;
    const hint = STATE_HINTS[c.state] || '';
    if (c.state === 'idle' && c.window && c.window.live === null) {
      state.title = 'Its host does not say whether its agent is live';
    } else {
      state.title = hint;
    }
    const when = el('time', 'convo-when', new Date(c.last_activity).toLocaleString());
    when.dateTime = c.last_activity;
    meta.append(state);
    if (c.last_failed) meta.append(el('span', 'convo-failed', 'Last turn failed'));
    meta.append(when);
    if (c.window && c.window.name) {
      const w = el('span', 'convo-window', `Window ${c.window.name.slice(0, 10)}… on ${c.window.host}`);
      w.dataset.window = c.window.name;
      meta.append(w);
    }
    b.append(title, meta);
    b.addEventListener('click', () => {
      close();
      toggle.focus(); // the chosen button goes with the drawer: the focus returns to its opener
      onSelect(c.session_id);
    });
    const del = el('button', 'convo-delete', '🗑');
    del.type = 'button';
    del.setAttribute('aria-label', `Delete conversation: ${c.title || '(no message)'}`);
    del.title = 'Delete this conversation';
    del.addEventListener('click', () => forget(c, li, del));
    li.append(b, del);
    return li;
  }

  async function forget(c, li, del) {
    const title = c.title || '(no message)';
    if (!window.confirm(`Delete the conversation “${title}”? Its messages and replies are removed for good.`)) {
      del.focus();
      return;
    }
    const { status, data } = await api('DELETE', `/api/paliadin/conversations/${encodeURIComponent(c.session_id)}`);
    if (status === 200 || status === 404) {
      // The focus goes to the next conversation (or the search field), not to the page body.
      const next = li.nextElementSibling || li.previousElementSibling;
      li.remove();
      empty.hidden = list.children.length > 0;
      (next ? next.querySelector('.convo-button') : search).focus();
      announce('Conversation deleted');
      onForgotten(c.session_id);
    } else {
      toast((data && data.message) || 'Could not delete the conversation.');
      del.focus();
    }
  }

  async function fetchPage(reset) {
    const mine = ++generation;
    const q = new URLSearchParams({ limit: '30' });
    if (query) q.set('q', query);
    if (!reset && next) q.set('before', next);
    const { status, data } = await api('GET', `/api/paliadin/conversations?${q}`);
    if (mine !== generation || status !== 200 || !data) return;
    if (reset) list.replaceChildren();
    for (const c of data.items) list.append(item(c));
    next = data.next_before;
    more.hidden = !next;
    empty.hidden = list.children.length > 0;
    empty.textContent = query ? 'No conversation mentions that.' : 'No conversations yet.';
  }

  /** Reads the states of the listed conversations again (in place: focus and order kept). */
  async function refreshStates() {
    if (drawer.hidden || !list.children.length) return;
    const mine = generation;
    const q = new URLSearchParams({ limit: String(Math.min(100, list.children.length)) });
    if (query) q.set('q', query);
    const { status, data } = await api('GET', `/api/paliadin/conversations?${q}`);
    if (mine !== generation || status !== 200 || !data) return;
    const fresh = new Map(data.items.map((c) => [c.session_id, c]));
    const shown = new Set([...list.querySelectorAll('.convo-button')].map((b) => b.dataset.session));
    // A conversation new or moved to the top: the whole list again (keeps it in order).
    if (data.items.some((c) => !shown.has(c.session_id))) {
      if (!list.contains(document.activeElement)) fetchPage(true);
      return;
    }
    for (const b of list.querySelectorAll('.convo-button')) {
      const c = fresh.get(b.dataset.session);
      if (!c) continue;
      const seen = [c.state, c.last_failed, c.last_activity, c.window && c.window.host].join(' ');
      if (seen === b.dataset.seen) continue;
      const li = b.closest('li');
      const focused = li.contains(document.activeElement) ? document.activeElement.className : null;
      const again = item(c);
      li.replaceWith(again);
      if (focused) again.querySelector(`.${focused.split(' ')[0]}`)?.focus();
    }
  }

  let ticker = 0;
  function open() {
    query = search.value.trim();
    next = null;
    drawer.hidden = false;
    toggle.setAttribute('aria-expanded', 'true');
    fetchPage(true);
    search.focus();
    clearInterval(ticker);
    ticker = setInterval(() => { refreshStates().catch(() => {}); }, REFRESH_MS);
  }
  function close() {
    drawer.hidden = true;
    toggle.setAttribute('aria-expanded', 'false');
    clearInterval(ticker);
  }

  toggle.addEventListener('click', () => (drawer.hidden ? open() : close()));
  $('convos-close').addEventListener('click', () => { close(); toggle.focus(); });
  drawer.addEventListener('keydown', (e) => { if (e.key === 'Escape') { close(); toggle.focus(); } });
  more.addEventListener('click', () => fetchPage(false));
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => { query = search.value.trim(); next = null; fetchPage(true); }, SEARCH_DELAY_MS);
  });
  return { refresh: () => { if (!drawer.hidden) fetchPage(true); } };
}
