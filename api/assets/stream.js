// stream.js: one turn's SSE stream. The page keeps ONE EventSource open at a time. Every event
// carries `id: <seq>`; events at or below the last id seen are dropped, so a reconnect (the
// browser sends Last-Event-ID itself) or a reopen after a page reload never duplicates text.
// Progress is mirrored to sessionStorage so a reload shows what was already streamed at once.
// Work-log steps are the exception to "drop what was seen": they carry their own number `n`, the
// view shows each `n` once, so a replay from the start brings back steps a tab did not save.

import { MAX_STEPS } from './worklog.js';

const LIVE_KEY = 'paliadin.live';
const KINDS = ['meta', 'status', 'activity', 'content', 'step', 'end', 'cancelled', 'permission', 'permission_decided'];
const TERMINAL = ['end', 'error', 'cancelled'];

/** The running turn saved by this tab: {turn_id, last_id, text, activity, state, asks, steps}
 * or null (`asks`: the permission requests not decided yet, by request id; `steps`: the work
 * log's steps so far, at most MAX_STEPS). */
export function loadLive() {
  try {
    const v = JSON.parse(sessionStorage.getItem(LIVE_KEY) || 'null');
    return v && typeof v.turn_id === 'string' ? v : null;
  } catch (e) {
    return null;
  }
}

function saveLive(v) {
  try { sessionStorage.setItem(LIVE_KEY, JSON.stringify(v)); } catch (e) { /* full or disabled */ }
}

export function clearLive() {
  try { sessionStorage.removeItem(LIVE_KEY); } catch (e) { /* disabled */ }
}

/**
 * Streams `turn` ({turn_id, sse_url}) into `h`: handlers seen(id) (every event received, shown
 * or dropped), status(data), activity(text), content(delta), step(data), permission(data),
 * permissionDecided(data), end(data), error(data), cancelled(), reconnecting(), lost().
 * `resume` ({last_id, text, activity, state, steps}) restores a reloaded tab's progress.
 */
export class TurnStream {
  constructor(turn, h, resume) {
    this.turn = turn;
    this.h = h;
    this.lastId = 0;
    this.live = { turn_id: turn.turn_id, last_id: 0, text: '', activity: '', state: 'queued', asks: {}, steps: [] };
    if (resume && resume.turn_id === turn.turn_id) {
      this.lastId = resume.last_id | 0;
      this.live = { ...this.live, ...resume };
      this.live.asks = { ...(resume.asks || {}) };
      this.live.steps = Array.isArray(resume.steps) ? resume.steps.slice(0, MAX_STEPS) : [];
    }
    this.es = null;
    this.closed = false;
  }

  open() {
    if (this.closed) return;
    // Requests seen before a reload are not sent again (their ids are below Last-Event-ID).
    for (const ask of Object.values(this.live.asks)) this.h.permission(ask);
    const es = new EventSource(this.turn.sse_url);
    this.es = es;
    for (const kind of KINDS) es.addEventListener(kind, (e) => this.onEvent(kind, e));
    // `error` is both a ⚑ terminal event (a MessageEvent with data) and EventSource's own
    // connection-trouble signal (a plain Event).
    es.addEventListener('error', (e) => {
      if (e instanceof MessageEvent && e.data) return this.onEvent('error', e);
      if (this.closed) return;
      if (es.readyState === EventSource.CLOSED) {
        this.es = null;
        this.h.lost();
      } else {
        this.h.reconnecting();
      }
    });
  }

  onEvent(kind, e) {
    if (this.closed) return;
    const id = Number(e.lastEventId);
    if (Number.isFinite(id) && id > 0) {
      this.h.seen(id);
      if (id <= this.lastId && kind !== 'step') return; // already shown
      this.lastId = Math.max(this.lastId, id);
    }
    let data = {};
    try { data = JSON.parse(e.data || '{}'); } catch (err) { data = {}; }
    this.live.last_id = this.lastId;
    switch (kind) {
      case 'status':
        this.live.state = data.state;
        this.h.status(data);
        break;
      case 'activity':
        this.live.activity = data.text || '';
        this.h.activity(this.live.activity);
        break;
      case 'content':
        this.live.text += data.delta || '';
        this.h.content(data.delta || '');
        break;
      case 'step': {
        const steps = this.live.steps;
        if (steps.length < MAX_STEPS && !steps.some((x) => x.n === data.n)) steps.push(data);
        this.h.step(data);
        break;
      }
      case 'permission':
        this.live.asks[data.request_id] = data;
        this.h.permission(data);
        break;
      case 'permission_decided':
        delete this.live.asks[data.request_id];
        this.h.permissionDecided(data);
        break;
      case 'end':
        this.close();
        return this.h.end(data);
      case 'error':
        this.close();
        return this.h.error(data);
      case 'cancelled':
        this.close();
        return this.h.cancelled();
      default:
        break;
    }
    saveLive(this.live);
  }

  /** Stops streaming and forgets the saved progress. */
  close() {
    this.closed = true;
    if (this.es) this.es.close();
    this.es = null;
    clearLive();
  }
}

/**
 * The work-log steps of a finished turn: opens its stream (the server replays every event from
 * the start), collects `step` events until the terminal event, then closes. Rejects when the
 * stream cannot be opened (or ends without a terminal event) or after `ms`.
 */
export function replaySteps(url, ms = 30000) {
  return new Promise((resolve, reject) => {
    const steps = new Map();
    const es = new EventSource(url);
    let timer = 0;
    const done = (ok) => {
      es.close();
      clearTimeout(timer);
      if (ok) resolve([...steps.values()].sort((a, b) => a.n - b.n).slice(0, MAX_STEPS));
      else reject(new Error('the steps could not be loaded'));
    };
    timer = setTimeout(() => done(false), ms);
    es.addEventListener('step', (e) => {
      try {
        const d = JSON.parse(e.data);
        if (d && Number.isInteger(d.n) && steps.size < MAX_STEPS) steps.set(d.n, d);
      } catch (err) { /* not a step */ }
    });
    for (const kind of TERMINAL) {
      es.addEventListener(kind, (e) => {
        // EventSource's own `error` (a plain Event) is connection trouble, not the turn's end.
        if (kind !== 'error' || (e instanceof MessageEvent && e.data)) return done(true);
        // Reconnecting by itself (it sends Last-Event-ID): wait; closed for good: give up.
        if (es.readyState === EventSource.CLOSED) done(false);
        return undefined;
      });
    }
  });
}
