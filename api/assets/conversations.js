// conversations.js: the conversations drawer of the chat page (a side panel on a wide screen,
// a drawer over the thread on a phone). Lists the owner's conversations newest first from
// GET /api/paliadin/conversations, with their state, searches their own messages and replies,
// pages with "Show more", hands a chosen conversation to the page, and deletes one (after a
// confirmation: DELETE /api/paliadin/conversations/{id} forgets its turns for good).

import { el } from './view.js';

const STATES = { running: 'Running', waiting: 'Waiting for you', done: 'Done', failed: 'Failed' };
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
    if (c.session_id === current()) b.setAttribute('aria-current', 'true');
    const title = el('span', 'convo-title', c.title || '(no message)');
    const meta = el('span', 'convo-meta');
    const state = el('span', `convo-state ${c.state}`, STATES[c.state] || c.state);
    const when = el('time', 'convo-when', new Date(c.last_activity).toLocaleString());
    when.dateTime = c.last_activity;
    meta.append(state, when);
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

  function open() {
    query = search.value.trim();
    next = null;
    drawer.hidden = false;
    toggle.setAttribute('aria-expanded', 'true');
    fetchPage(true);
    search.focus();
  }
  function close() {
    drawer.hidden = true;
    toggle.setAttribute('aria-expanded', 'false');
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
