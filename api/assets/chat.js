// chat.js: the chat page's controller. Loads the current conversation (its session id lives in
// localStorage), sends messages, follows unfinished turns one at a time through TurnStream,
// cancels, and starts new conversations. All requests are same-origin with the session cookie;
// the browser adds the Origin header the server checks on POSTs. A turn's link
// (`/paliadin/c/<session_id>#turn-<turn_id>`, `…-step-<n>` for a step of its work log; the older
// `/paliadin?session=…&turn=…` too) opens that conversation and scrolls to the turn.

import { Reply, userMessage } from './view.js';
import { TurnStream, clearLive, loadLive, replaySteps } from './stream.js';
import { setupNotifications, turnEvent } from './notify.js';
import { setupConversations } from './conversations.js';
import { UsageTotal, usageLine } from './usage.js';
import { setupTerminal } from './terminal.js';
import { sentUploads, setupUploads } from './uploads.js';

const SESSION_KEY = 'paliadin.session';
const $ = (id) => document.getElementById(id);
const log = $('log');
const scroller = $('scroller');
const input = $('composer-input');
const sendBtn = $('send');
const stopBtn = $('stop');
const newBtn = $('new-chat');

const turns = new Map(); // turn_id → {turn_id, sse_url, message, reply}
let pending = []; // unfinished turn ids, oldest first; pending[0] is the one streamed
/** The conversation being loaded onto the page (history and unfinished turns). */
let showing = Promise.resolve();
let stream = null; // the one TurnStream
let sessionId = null;
let resume = loadLive();
const spent = new UsageTotal($('usage-total'));

/** The names of the agents a turn may say answered it (its `agent`: docs/web.md, "The chat page"). */
const AGENTS = { claude: 'Claude Code', codex: 'Codex', demo: 'demo agent', other: 'another agent' };

/** Says under a reply which agent wrote it (nothing for a turn that names none). */
function showAgent(t, agent) {
  const name = AGENTS[agent];
  if (!name) return;
  const p = document.createElement('p');
  p.className = 'answered-by';
  p.dataset.agent = agent;
  p.textContent = `Answered by ${name}`;
  t.reply.bubble.append(p);
}

/** A window name shortened for reading: `c-` and its first 8 hex digits. */
function shortWindow(name) {
  return name.length > 10 ? `${name.slice(0, 10)}…` : name;
}

/** Says under a reply which agent window answered it (`window`: {name, host} of the turn). */
function showWindow(t, window) {
  if (!window || !window.name) return;
  const p = document.createElement('p');
  p.className = 'agent-window';
  p.dataset.window = window.name;
  p.dataset.host = window.host || '';
  p.title = `tmux window ${window.name}${window.host ? ` on host ${window.host}` : ''}`;
  p.textContent = `Agent window ${shortWindow(window.name)}${window.host ? ` on ${window.host}` : ''}`;
  t.reply.bubble.append(p);
}

/** Shows what a reply cost under it, and counts it in the conversation's total. */
function showUsage(t, usage) {
  if (!usage || typeof usage !== 'object') return;
  t.reply.bubble.append(usageLine(usage));
  spent.add(t.turn_id, usage);
}

function storedSession() {
  try { return localStorage.getItem(SESSION_KEY); } catch (e) { return null; }
}
function setSession(id) {
  sessionId = id;
  try { localStorage.setItem(SESSION_KEY, id); } catch (e) { /* not remembered */ }
}

function announce(text) {
  $('announcer').textContent = text;
}
let toastTimer = 0;
function toast(text) {
  const t = $('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 6000);
}

/** Our session ended (logout elsewhere, expiry, disabled): back to the sign-in page. */
function signedOut() {
  clearLive();
  window.location.assign('/login');
}

async function api(method, path, body) {
  const opts = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  // A 404 of these is about one thing (a turn, a request, a conversation gone meanwhile), not
  // the person: only the others mean the session has ended.
  const own = !path.includes('/cancel') && !path.includes('/permission/') && !path.includes('/push/')
    && method !== 'DELETE';
  if (r.status === 404 && own) signedOut();
  return { status: r.status, data };
}

function nearBottom() {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
}
function keepBottom(fn) {
  const stick = nearBottom();
  fn();
  if (stick) scroller.scrollTop = scroller.scrollHeight;
}

function refreshChrome() {
  $('empty').hidden = turns.size > 0;
  const stopFocused = document.activeElement === stopBtn;
  stopBtn.hidden = pending.length === 0;
  // A keyboard user who stopped the reply keeps their place: back to the message box.
  if (stopFocused && stopBtn.hidden) input.focus();
  pending.forEach((id, i) => {
    const t = turns.get(id);
    if (i > 0 && t) t.reply.setStatus('queued', i);
  });
}

/** Adds a turn's two bubbles (and the files sent with the message). */
function addTurn(message, uploads) {
  const reply = new Reply();
  const mine = userMessage(message);
  const files = sentUploads(uploads);
  if (files) mine.append(files);
  keepBottom(() => log.append(mine, reply.root));
  return reply;
}

/** A turn's link: the chat page on its conversation, scrolled to the turn. */
function turnLink(session, turn) {
  return `/paliadin/c/${session}#turn-${turn}`;
}

function track(item, reply) {
  const t = { turn_id: item.turn_id, sse_url: item.sse_url, message: item.user_message, reply, window: item.window };
  turns.set(t.turn_id, t);
  reply.root.dataset.turn = t.turn_id;
  reply.setTurn(t.turn_id, turnLink(item.session_id || sessionId, t.turn_id));
  return t;
}

function unfinished(t) {
  pending.push(t.turn_id);
  t.reply.setStatus('queued', pending.length - 1);
  t.reply.cancellable(() => cancel(t.turn_id));
}

function settle(id) {
  pending = pending.filter((p) => p !== id);
  if (stream && stream.turn.turn_id === id) {
    stream.close();
    stream = null;
  }
  refreshChrome();
  follow();
}

/** Opens the stream of the oldest unfinished turn, if none is open. */
function follow() {
  if (stream || pending.length === 0) return;
  const t = turns.get(pending[0]);
  const r = t.reply;
  const saved = resume && resume.turn_id === t.turn_id ? resume : null;
  resume = null;
  if (saved) {
    for (const step of saved.steps || []) r.step(step);
    keepBottom(() => r.append(saved.text || ''));
    if (saved.activity) r.setActivity(saved.activity);
    if (saved.state) r.setStatus(saved.text ? 'answering' : saved.state, 0);
  }
  let retries = 0;
  stream = new TurnStream(t, {
    // The highest event id received (duplicates included): shows how far a replay has come.
    seen: (id) => {
      if (id > Number(r.root.dataset.received || 0)) r.root.dataset.received = String(id);
    },
    status: (d) => {
      if (d.state === 'waiting' && typeof d.screen === 'string') keepBottom(() => r.terminalQuestion(d.screen));
      else r.setStatus(d.state, 0, d);
      if (d.state === 'delivered') announce('Paliadin is thinking');
    },
    activity: (text) => keepBottom(() => r.setActivity(text)),
    step: (d) => keepBottom(() => r.step(d)),
    content: (delta) => keepBottom(() => { r.setStatus('answering'); r.append(delta); }),
    permission: (p) => {
      keepBottom(() => r.ask(p, (request, decision) => decide(t.turn_id, request, decision)));
      announce(`Paliadin asks to use ${p.tool}`);
      turnEvent('permission', t.turn_id, sessionId, p);
    },
    permissionDecided: (d) => r.decided(d),
    end: (d) => {
      keepBottom(() => {
        r.finish(d.text, d.html);
        showAgent(t, d.agent);
        if (d.agent) showWindow(t, t.window);
        showUsage(t, d.usage);
      });
      announce('Reply finished');
      turnEvent('end', t.turn_id, sessionId, d);
      settle(t.turn_id);
    },
    error: (d) => {
      turnEvent('error', t.turn_id, sessionId, d);
      keepBottom(() => r.fail(d.code, d.message, () => send(t.message), d.kind));
      announce('The reply failed');
      settle(t.turn_id);
    },
    cancelled: () => { r.cancelled(); announce('Cancelled'); settle(t.turn_id); },
    reconnecting: () => r.setStatus('reconnecting'),
    lost: async () => {
      r.setStatus('lost');
      const { status } = await api('GET', '/api/paliadin/turns?limit=1');
      if (status === 200 && retries++ < 5 && stream && stream.turn.turn_id === t.turn_id) {
        setTimeout(() => stream && stream.turn.turn_id === t.turn_id && stream.open(), 2000);
      }
    },
  }, saved);
  stream.open();
}

function render(item) {
  const reply = addTurn(item.user_message, item.uploads);
  const t = track(item, reply);
  if (item.state === 'succeeded') {
    reply.finish(item.text, item.html);
    showAgent(t, item.agent);
    if (item.agent) showWindow(t, item.window);
    showUsage(t, item.usage);
  }
  else if (item.state === 'failed') reply.fail(item.error_code, item.error_message, () => send(t.message), item.error_kind);
  else if (item.state === 'cancelled') reply.cancelled();
  else unfinished(t);
  // A finished turn's steps come when its work log is opened; a running one's with its stream.
  if (item.finished_at && item.steps > 0) reply.lazySteps(item.steps, () => replaySteps(item.sse_url));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const PAGE = '/paliadin';
const CONVERSATION = /^\/paliadin\/c\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
const TARGET = /^#turn-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:-step-([1-9][0-9]{0,3}))?$/;

/**
 * The conversation, turn and step a URL names: `/paliadin/c/<session>#turn-<turn>[-step-<n>]`,
 * or a notification's older `/paliadin?session=…&turn=…`.
 */
function target(url) {
  const u = new URL(url, location.origin);
  const path = CONVERSATION.exec(u.pathname);
  const hash = TARGET.exec(u.hash);
  const q = u.searchParams;
  const session = path ? path[1] : q.get('session');
  const turn = hash ? hash[1] : q.get('turn');
  return {
    session: UUID.test(session || '') ? session : null,
    turn: UUID.test(turn || '') ? turn : null,
    step: hash && hash[2] ? Number(hash[2]) : null,
  };
}

/** What this page's URL links to, once; the older form's query is dropped from the address. */
function linked() {
  const link = target(location.href);
  if (location.search) {
    const tidy = link.session ? `${PAGE}/c/${link.session}${link.turn ? `#turn-${link.turn}` : ''}` : location.pathname;
    history.replaceState(null, '', tidy);
  }
  return link;
}

/** Scrolls to turn `id` (and step `step` of its work log, opening it), marks and focuses it. */
function showTurn(id, step) {
  const t = id && turns.get(id);
  if (t) t.reply.highlight(step).catch(() => {});
}

/** A notification was clicked while this tab was open. */
function opened(url) {
  const link = target(url);
  if (link.session && link.session !== sessionId) window.location.assign(url);
  else showTurn(link.turn, link.step);
}

/** The address names this page (not a conversation): leaving a linked one. */
function unlink() {
  if (location.pathname !== PAGE) history.replaceState(null, '', PAGE);
}

/** Shows another conversation (chosen in the conversations drawer), resuming its running turn. */
/** Leaves the conversation on screen (its stream, turns, usage total, saved live turn) for `id`. */
function leaveFor(id) {
  if (stream) stream.close();
  stream = null;
  pending = [];
  turns.clear();
  spent.reset();
  log.replaceChildren();
  clearLive();
  resume = null;
  unlink();
  if (id) setSession(id);
  else sessionId = null;
}

async function switchTo(id) {
  if (id === sessionId) return;
  leaveFor(id);
  await showConversation({});
  announce('Conversation loaded');
}

function load() {
  showing = (async () => {
    const link = linked();
    sessionId = link.session || storedSession();
    if (!sessionId) {
      // First visit on this browser: continue the latest conversation, if any.
      const { status, data } = await api('GET', '/api/paliadin/turns?limit=1');
      if (status !== 200) return;
      if (Array.isArray(data) && data.length) setSession(data[0].session_id);
    }
    await renderConversation(link);
  })();
  return showing;
}

/** Renders the current conversation's turns and follows its unfinished ones; a message sent
 * meanwhile waits for it (`showing`). */
function showConversation(link) {
  showing = renderConversation(link);
  return showing;
}

async function renderConversation(link) {
  if (sessionId) {
    const q = new URLSearchParams({ session_id: sessionId, limit: '100' });
    const { status, data } = await api('GET', `/api/paliadin/turns?${q}`);
    if (status !== 200) return;
    if (link.session && link.session === sessionId) {
      if (data.length === 0) {
        // Unknown, deleted or another owner's: the same empty, new conversation for each, and
        // the id is not taken over (a message sent here starts a conversation of its own).
        toast('That conversation was not found.');
        leaveFor(null);
      } else {
        setSession(sessionId);
      }
    }
    // A turn already on the page (its own live element) is not shown twice.
    for (const item of data) if (!turns.has(item.turn_id)) render(item);
  }
  if (resume && !turns.has(resume.turn_id)) resume = null;
  refreshChrome();
  scroller.scrollTop = scroller.scrollHeight;
  follow();
  showTurn(link.turn, link.step);
}

function randomHex(bytes) {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** A random (version 4) UUID; crypto.randomUUID needs a secure context, this does not. */
function newSessionId() {
  const h = randomHex(16).split('');
  h[12] = '4';
  h[16] = '89ab'[parseInt(h[16], 16) % 4];
  const s = h.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

async function send(message, files = []) {
  if (!message.trim()) return;
  // A message sent while the conversation is still being loaded (just after opening the page,
  // or choosing another conversation) goes below its history, never before or into it.
  await showing.catch(() => {});
  // Chosen here, so quick successive sends of a new conversation all land in it.
  if (!sessionId) setSession(newSessionId());
  const reply = addTurn(message, files);
  $('empty').hidden = true;
  const body = {
    user_message: message,
    session_id: sessionId,
    page_origin: location.pathname,
    client_turn_id: randomHex(16),
  };
  if (files.length) body.upload_ids = files.map((f) => f.upload_id);
  let res;
  try {
    res = await api('POST', '/api/paliadin/turn', body);
  } catch (e) {
    res = await api('POST', '/api/paliadin/turn', body).catch(() => ({ status: 0, data: null }));
  }
  if (res.status !== 200) {
    reply.root.previousElementSibling.remove();
    reply.root.remove();
    refreshChrome();
    if (!input.value) input.value = message;
    attachments.restore(files);
    toast((res.data && res.data.message) || 'The message could not be sent. Try again.');
    return;
  }
  setSession(res.data.session_id);
  const t = track({ ...res.data, user_message: message }, reply);
  unfinished(t);
  refreshChrome();
  follow();
}

/** Sends the owner's answer; true when it was recorded (the stream then shows it). */
async function decide(turnId, requestId, decision) {
  const { status, data } = await api('POST', `/api/paliadin/turn/${turnId}/permission/${requestId}`, { decision });
  if (status === 200) return true;
  // 409: decided elsewhere or expired; the stream's `permission_decided` says which.
  if (status !== 409) toast((data && data.message) || 'Could not send your answer.');
  return status === 409;
}

async function cancel(id) {
  const t = turns.get(id);
  if (!t || !pending.includes(id)) return;
  t.reply.setStatus('cancelling');
  const { status, data } = await api('POST', `/api/paliadin/turn/${id}/cancel`, {});
  const current = stream && stream.turn.turn_id === id;
  if (status === 200 && data.state === 'cancelled' && !current) {
    t.reply.cancelled();
    settle(id);
  } else if (status !== 200 && status !== 409) {
    toast((data && data.message) || 'Could not cancel.');
  }
}

async function newConversation() {
  newBtn.disabled = true;
  sendBtn.disabled = true;
  announce('Starting a new conversation');
  // The current conversation's unfinished turns keep running: it stays in the ☰ list and its
  // agent resumes it when it is chosen again.
  const { status, data } = await api('POST', '/api/paliadin/reset', {});
  newBtn.disabled = false;
  sendBtn.disabled = false;
  if (status !== 200 && status !== 202) {
    toast((data && data.message) || 'Could not start a new conversation.');
    return;
  }
  // 202: the reset is queued behind the earlier conversation's turns and runs after them.
  if (status === 202) toast('The new conversation starts once the agent has finished the earlier one.');
  leaveFor(data.session_id);
  refreshChrome();
  announce('New conversation');
  input.focus();
}

function autosize() {
  const max = window.innerHeight * 0.4;
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight, max)}px`;
  input.style.overflowY = input.scrollHeight > max ? 'auto' : 'hidden';
}

const attachments = setupUploads({
  tray: $('attachments'),
  pick: $('attach'),
  camera: $('camera'),
  pickInput: $('attach-input'),
  cameraInput: $('camera-input'),
  dropZone: document.body,
  highlight: $('composer-wrap'),
  input,
  toast,
  announce,
  signedOut,
});

$('composer').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (sendBtn.disabled) return;
  if (attachments.busy()) {
    sendBtn.disabled = true;
    announce('Waiting for the files to upload');
    await attachments.ready();
    sendBtn.disabled = false;
  }
  const files = attachments.take();
  // Files alone are a message too.
  const text = input.value.trim() || !files.length ? input.value
    : (files.length === 1 ? 'Please look at the attached file.' : 'Please look at the attached files.');
  if (!text.trim()) return;
  input.value = '';
  autosize();
  send(text, files);
});
input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $('composer').requestSubmit();
  }
});
input.addEventListener('input', autosize);
stopBtn.addEventListener('click', () => pending.length && cancel(pending[0]));
newBtn.addEventListener('click', newConversation);
// A link to another turn of this page (the address bar, a copied link pasted here).
window.addEventListener('hashchange', () => {
  const link = target(location.href);
  if (!link.session || link.session === sessionId) showTurn(link.turn, link.step);
});
setupNotifications($('notify-toggle'), api, toast, opened);
setupConversations({
  api,
  onSelect: (id) => switchTo(id).catch(() => toast('Could not load the conversation.')),
  current: () => sessionId,
  // The conversation on screen was deleted: an empty, new one takes its place.
  onForgotten: (id) => {
    if (id !== sessionId) return;
    leaveFor(crypto.randomUUID());
    refreshChrome();
  },
  toast,
  announce,
});

setupTerminal({ current: () => sessionId });
load().catch(() => toast('Could not load the conversation.'));
input.focus();
