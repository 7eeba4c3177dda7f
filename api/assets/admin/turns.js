// turns.js: the recent-turns table (filtered by state and user) and its drill-down dialog,
// which shows one turn's facts and its events (reply text arrives redacted by the API).

import { api, ago, cell, ms, pill, row } from './util.js';

const $ = (id) => document.getElementById(id);

// Reads the filters into a query string (the API validates them; a 400 shows as an alert).
function query() {
  const p = new URLSearchParams({ limit: '25' });
  const state = $('f-state').value;
  const user = $('f-user').value.trim();
  if (state) p.set('state', state);
  if (user) p.set('user', user);
  return p.toString();
}

export async function loadTurns() {
  const turns = await api(`/api/admin/paliadin/turns?${query()}`);
  const body = $('turns');
  body.textContent = '';
  if (turns.length === 0) {
    const tr = row(body);
    const td = cell(tr, 'No turns match.');
    td.colSpan = 9;
    td.className = 'empty';
    return;
  }
  for (const t of turns) {
    const tr = row(body);
    tr.tabIndex = 0;
    tr.dataset.id = t.id;
    tr.setAttribute('aria-label', `Turn ${t.id}, ${t.state}; open its events`);
    cell(tr, ago(t.queued_at)).title = t.queued_at;
    cell(tr, t.user_email);
    pill(cell(tr), t.state);
    cell(tr, t.host);
    cell(tr, t.worker_id || '–');
    cell(tr, String(t.attempt), 'num');
    cell(tr, ms(t.queue_wait_ms), 'num');
    cell(tr, ms(t.end_to_end_ms), 'num');
    cell(tr, t.error_code || '');
  }
}

function fact(dl, name, value, mono) {
  const dt = document.createElement('dt');
  dt.textContent = name;
  const dd = document.createElement('dd');
  dd.textContent = value == null || value === '' ? '–' : String(value);
  if (mono) dd.className = 'mono';
  dl.append(dt, dd);
}

async function open(id) {
  const { turn: t, events } = await api(`/api/admin/paliadin/turns/${encodeURIComponent(id)}`);
  $('d-title').textContent = `Turn · ${t.state}`;
  const dl = $('d-facts');
  dl.textContent = '';
  fact(dl, 'Turn', t.id, true);
  fact(dl, 'User', `${t.user_email} (${t.user_id})`);
  fact(dl, 'Session', t.session_id, true);
  fact(dl, 'Kind', t.kind);
  fact(dl, 'Host · worker', `${t.host} · ${t.worker_id || '–'} · attempt ${t.attempt}`);
  fact(dl, 'Queued', t.queued_at);
  fact(dl, 'Queue wait', ms(t.queue_wait_ms));
  fact(dl, 'End-to-end', ms(t.end_to_end_ms));
  fact(dl, 'Message · reply', `${t.message_chars} chars · ${t.reply_chars == null ? '–' : `${t.reply_chars} chars`}`);
  if (t.used_tools) fact(dl, 'Tools', t.used_tools.join(', '));
  if (t.classifier_tag) fact(dl, 'Classifier', t.classifier_tag);
  if (t.agent) fact(dl, 'Agent', t.agent);
  if (t.rows_seen != null) fact(dl, 'Rows · chips', `${t.rows_seen} · ${t.chip_count}`);
  if (t.error_code) fact(dl, 'Error', `${t.error_code}: ${t.error_message || ''}`);
  const list = $('d-events');
  list.textContent = '';
  const start = events.length ? Date.parse(events[0].created_at) : 0;
  for (const e of events) {
    const li = document.createElement('li');
    const seq = document.createElement('span');
    seq.className = 'seq';
    seq.textContent = `#${e.seq}`;
    const at = document.createElement('span');
    at.className = 'at';
    at.textContent = `+${ms(Date.parse(e.created_at) - start)}`;
    const kind = document.createElement('span');
    pill(kind, e.kind);
    const data = document.createElement('code');
    data.textContent = JSON.stringify(e.data);
    li.append(seq, at, kind, data);
    list.appendChild(li);
  }
  if (!$('detail').open) $('detail').showModal();
}

export function wireTurns(onError, refresh) {
  const body = $('turns');
  const pick = (ev) => {
    const tr = ev.target.closest('tr[data-id]');
    if (tr) open(tr.dataset.id).catch(onError);
  };
  body.addEventListener('click', pick);
  body.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      pick(ev);
    }
  });
  $('d-close').addEventListener('click', () => $('detail').close());
  $('f-state').addEventListener('change', refresh);
  let timer = 0;
  $('f-user').addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
  $('turn-filter').addEventListener('submit', (ev) => {
    ev.preventDefault();
    refresh();
  });
}
