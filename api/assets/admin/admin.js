// admin.js: the dashboard. Every few seconds (paused while the tab is hidden or on "Pause") it
// reads /api/admin/paliadin/stats and the recent turns, then fills the tiles, charts and tables.
// Everything user-controlled is written with textContent; nothing is inserted as HTML.

import { stackedBars, lines, area } from './charts.js';
import { loadTurns, wireTurns } from './turns.js';
import { api, cell, fill, ms, num, pill, secs, ago } from './util.js';

const REFRESH_MS = 5000;
const $ = (id) => document.getElementById(id);
let last = null;
let paused = false;
let timer = 0;

function set(id, text) { $(id).textContent = text; }

function tiles(s) {
  const t = s.turns;
  set('t-queued', num(t.queued));
  const oldest = Math.max(0, ...s.queues.map((q) => q.oldest_age_secs || 0));
  set('t-oldest', s.queues.some((q) => q.length > 0) ? `oldest message ${secs(oldest)}` : 'queues empty');
  set('t-running', num(t.running));
  const inflight = s.workers.reduce((n, w) => n + (w.alive ? w.in_flight : 0), 0);
  set('t-inflight', `${inflight} in flight`);
  const asking = s.waiting || { turns: 0, oldest_wait_secs: null };
  set('t-asking', num(asking.turns));
  set('t-asking-oldest', asking.turns ? `oldest ${secs(Math.round(asking.oldest_wait_secs || 0))}` : 'no open requests');
  set('t-succeeded', num(t.succeeded));
  set('t-window', `in ${s.window}${s.sample.capped ? ' (newest ' + num(s.sample.turns) + ')' : ''} · ${num(t.cancelled)} cancelled`);
  set('t-failed', num(t.failed));
  set('t-errors', s.errors.length ? s.errors.map((e) => `${e.name} ${e.count}`).join(' · ') : 'no errors');
  const e2e = s.latency.end_to_end;
  set('t-e2e', e2e.count ? ms(e2e.p50_ms) : '–');
  set('t-e2e99', e2e.count ? `p95 ${ms(e2e.p95_ms)}` : 'no successful turns');
  $('t-e2e99').title = e2e.count ? `p99 ${ms(e2e.p99_ms)} · ${num(e2e.count)} turns` : '';
  const w = s.latency.queue_wait;
  set('t-wait', w.count ? ms(w.p95_ms) : '–');
  set('t-wait50', w.count ? `p50 ${ms(w.p50_ms)}` : '');
  const alive = s.workers.filter((x) => x.alive).length;
  set('t-workers', `${alive} / ${s.workers.filter((x) => x.status !== 'stopped').length}`);
  const stale = s.workers.filter((x) => x.status === 'stale').length;
  set('t-stale', stale ? `${stale} stale` : 'all alive');
  set('t-hosts', `${s.hosts.filter((h) => h.reachable).length} / ${s.hosts.length}`);
  set('t-sessions', `${num(s.hosts.reduce((n, h) => n + h.sessions, 0))} sessions`);
  agentTile(s.hosts);
}

const NO_AGENTS = { live: null, max: null, starts: 0, resumes: 0, stops: { idle: 0, capacity: 0, crash: 0 }, deferred: 0 };
const agentsOf = (h) => h.agents || NO_AGENTS;

// Live agents over the hosts whose workers count them (not those behind a host agent).
function agentTile(hosts) {
  const counted = hosts.map(agentsOf).filter((a) => a.live != null);
  const live = counted.reduce((n, a) => n + a.live, 0);
  const limited = counted.length > 0 && counted.every((a) => a.max != null);
  set('t-agents', counted.length ? (limited ? `${num(live)} / ${num(counted.reduce((n, a) => n + a.max, 0))}` : num(live)) : '–');
  const all = hosts.map(agentsOf);
  const sum = (f) => all.reduce((n, a) => n + f(a), 0);
  const stops = { idle: sum((a) => a.stops.idle), capacity: sum((a) => a.stops.capacity), crash: sum((a) => a.stops.crash) };
  set('t-agent-stops', `${num(sum((a) => a.resumes))} resumed · ${num(stops.idle + stops.capacity + stops.crash)} stops`);
  $('t-agent-stops').title = `stopped: idle ${stops.idle} · for room ${stops.capacity} · crashed ${stops.crash}`;
}

// "2 / 3", "2 (no limit)", or "–" when no worker counts them (a host behind a host agent).
function liveAgents(a) {
  if (a.live == null) return '–';
  return a.max == null ? `${num(a.live)} (no limit)` : `${num(a.live)} / ${num(a.max)}`;
}

function charts(s) {
  const times = s.throughput.map((m) => m.minute);
  stackedBars($('c-throughput'), times, [
    { cls: 's-ok', name: 'succeeded', values: s.throughput.map((m) => m.succeeded) },
    { cls: 's-bad', name: 'failed', values: s.throughput.map((m) => m.failed) },
    { cls: 's-warn', name: 'cancelled', values: s.throughput.map((m) => m.cancelled) },
  ]);
  lines($('c-latency'), times, [
    { cls: 'l-accent', name: 'p50', values: s.throughput.map((m) => m.e2e_p50_ms) },
    { cls: 'l-bad', name: 'p95', values: s.throughput.map((m) => m.e2e_p95_ms) },
  ], ms);
  area($('c-depth'), times, s.throughput.map((m) => m.waiting), 'waiting turns');
}

function bars(id, items, none) {
  const ul = $(id);
  ul.textContent = '';
  if (!items.length) {
    const li = document.createElement('li');
    li.className = 'none';
    li.textContent = none;
    ul.appendChild(li);
    return;
  }
  const max = Math.max(...items.map((i) => i.count));
  for (const it of items.slice(0, 8)) {
    const li = document.createElement('li');
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = it.name;
    const count = document.createElement('span');
    count.className = 'count';
    count.textContent = num(it.count);
    const m = document.createElement('meter');
    m.max = max;
    m.value = it.count;
    li.append(name, count, m);
    ul.appendChild(li);
  }
}

function tables(s) {
  set('lat-window', s.window);
  set('sample', `${num(s.sample.turns)} finished turns${s.sample.capped ? ' (newest only)' : ''}`);
  const stages = [['Queue wait', s.latency.queue_wait], ['Delivery', s.latency.delivery],
    ['Answer', s.latency.answer], ['End-to-end', s.latency.end_to_end]];
  fill($('latency'), stages, 5, '', (tr, [name, l]) => {
    cell(tr, name);
    cell(tr, num(l.count), 'num');
    for (const p of [l.p50_ms, l.p95_ms, l.p99_ms]) cell(tr, ms(p), 'num');
  });
  bars('errors', s.errors, 'No failures');
  bars('tools', s.usage.tools, 'No tools reported');
  bars('tags', s.usage.classifier_tags, 'No tags reported');
  bars('agents', s.agents || [], 'No agent recorded');
  const u = s.usage;
  set('usage-totals', `Rows seen ${num(u.rows_seen_total)} (avg ${u.rows_seen_avg == null ? '–' : u.rows_seen_avg.toFixed(1)}) · chips ${num(u.chips_total)} (avg ${u.chips_avg == null ? '–' : u.chips_avg.toFixed(1)})`);
  set('tokens-window', s.window);
  fill($('tokens'), s.tokens || [], 8, 'No model usage recorded', (tr, d) => {
    cell(tr, d.day, 'mono');
    cell(tr, d.email);
    for (const n of [d.turns, d.input, d.output, d.cache_read, d.cache_creation]) cell(tr, num(n), 'num');
    cell(tr, d.cost_usd == null ? '–' : `$${d.cost_usd.toFixed(4)}`, 'num');
  });
  fill($('queues'), s.queues, 6, 'No queues yet', (tr, q) => {
    cell(tr, q.queue, 'mono');
    cell(tr, num(q.length), 'num');
    cell(tr, num(q.visible_length), 'num');
    cell(tr, q.length ? secs(q.oldest_age_secs) : '–', 'num');
    cell(tr, q.length ? secs(q.newest_age_secs) : '–', 'num');
    cell(tr, num(q.total_sent), 'num');
  });
  fill($('workers'), s.workers, 7, 'No workers registered', (tr, w) => {
    cell(tr, w.id, 'mono');
    pill(cell(tr), w.status);
    cell(tr, w.hosts.join(', '));
    cell(tr, num(w.in_flight), 'num');
    cell(tr, `${secs(w.heartbeat_age_secs)} ago`, 'num');
    cell(tr, w.version);
    cell(tr, ago(w.started_at)).title = w.started_at;
  });
  fill($('hosts'), s.hosts, 12, 'No hosts registered', (tr, h) => {
    const a = agentsOf(h);
    tr.dataset.host = h.name;
    cell(tr, h.name, 'mono');
    pill(cell(tr), h.reachable ? 'yes' : 'no');
    cell(tr, num(h.sessions), 'num');
    const live = cell(tr, liveAgents(a), 'num agents-live');
    live.title = a.counted_at ? `counted ${ago(a.counted_at)}` : 'not counted by its workers (a host agent keeps its own count)';
    for (const [n, cls] of [[a.starts, 'starts'], [a.resumes, 'resumes'], [a.stops.idle, 'stops-idle'],
      [a.stops.capacity, 'stops-capacity'], [a.stops.crash, 'stops-crash'], [a.deferred, 'deferred']]) {
      cell(tr, num(n), `num agents-${cls}`);
    }
    cell(tr, ago(h.last_seen_at)).title = h.last_seen_at;
    cell(tr, h.last_error || '');
  });
}

function showError(e) {
  const box = $('alert');
  box.hidden = false;
  box.textContent = e && e.status === 404
    ? 'Your session has ended or is not an admin session: sign in again at /login.'
    : `Could not refresh: ${e && e.message ? e.message : e}`;
  $('status').classList.add('stale');
}

async function refresh() {
  clearTimeout(timer);
  try {
    const win = $('window').value;
    const [s] = await Promise.all([api(`/api/admin/paliadin/stats?window=${encodeURIComponent(win)}`), loadTurns()]);
    last = s;
    tiles(s);
    charts(s);
    tables(s);
    $('alert').hidden = true;
    $('status').classList.remove('stale');
    $('status').textContent = `Updated ${new Date().toLocaleTimeString()}`;
    document.body.dataset.loaded = 'true';
  } catch (e) {
    showError(e);
  }
  if (!paused && !document.hidden) timer = setTimeout(refresh, REFRESH_MS);
}

document.addEventListener('DOMContentLoaded', () => {
  $('window').addEventListener('change', refresh);
  $('pause').addEventListener('click', () => {
    paused = !paused;
    $('pause').setAttribute('aria-pressed', String(paused));
    $('pause').textContent = paused ? 'Resume' : 'Pause';
    if (!paused) refresh();
  });
  document.addEventListener('visibilitychange', () => { if (!document.hidden && !paused) refresh(); });
  let resize = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resize);
    resize = setTimeout(() => { if (last) charts(last); }, 150);
  });
  wireTurns(showError, refresh);
  refresh();
});
