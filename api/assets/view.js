// view.js: the conversation's DOM. Streamed text is only ever set through textContent; the one
// HTML inserted is the server-rendered, sanitised `html` of a finished reply (and the page's CSP
// forbids inline script, so even that could not run code).

import { WorkLog } from './worklog.js';

/** Friendly text per ⚑ error code; the server's message is shown under it. */
export const ERRORS = {
  upstream_error: 'The assistant ran into a problem while answering.',
  tmux_unavailable: "The assistant's terminal is not available right now.",
  host_unreachable: "The machine that runs the assistant can't be reached.",
  session_lost: 'The assistant session was lost. Your next message starts a fresh one.',
  timeout: 'The assistant took too long to answer.',
  invalid_reply: "The assistant's reply could not be read.",
  worker_lost: 'The worker handling this message stopped before it finished.',
  agent_error: "The assistant's model could not answer.",
};

/**
 * `agent_error` by its `kind` (why the model's API failed): a sentence a person can act on,
 * and whether trying again can help.
 */
export const AGENT_ERRORS = {
  authentication_failed: ["The agent's API key was rejected: an operator must fix its credentials.", false],
  oauth_org_not_allowed: ["The agent's account may not use the model: an operator must fix its credentials.", false],
  billing_error: ["The agent's account is out of credit: an operator must add credit or change the plan.", false],
  rate_limit: ['The model is rate-limited: try again in a minute.', true],
  overloaded: ['The model is overloaded: try again in a minute.', true],
  invalid_request: ['This conversation is too long for the model: start a new one.', false],
  model_not_found: ["The agent's model is not available: an operator must choose another.", false],
  server_error: ["The model's service had an error: try again.", true],
  max_output_tokens: ['The answer grew too long for the model: ask for a shorter one.', true],
};

const STATUS = {
  sending: 'Sending…',
  queued: 'Queued',
  claimed: 'Starting…',
  delivered: 'Thinking…',
  answering: 'Thinking…',
  reconnecting: 'Reconnecting…',
  cancelling: 'Cancelling…',
  lost: 'Connection lost',
  waiting: 'Waiting for you',
  retrying: 'The model is busy: retrying…',
  compacting: 'Compacting the conversation…',
};

const DECIDED = { allow: 'Allowed', allow_always: 'Always allowed', deny: 'Denied' };

/** `document.createElement` with a class and optional text. */
export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function logo() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 32 32');
  svg.setAttribute('class', 'logo');
  svg.setAttribute('aria-hidden', 'true');
  const rect = document.createElementNS(ns, 'rect');
  rect.setAttribute('width', '32');
  rect.setAttribute('height', '32');
  rect.setAttribute('rx', '9');
  rect.setAttribute('class', 'logo-bg');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', 'M11 23.5V9.5h6.2a5.2 5.2 0 0 1 0 10.4H14');
  path.setAttribute('class', 'logo-mark');
  svg.append(rect, path);
  return svg;
}

/** The user's message bubble. */
export function userMessage(text) {
  const art = el('article', 'msg user');
  art.setAttribute('aria-label', 'You');
  art.append(el('div', 'bubble', text));
  return art;
}

/** The level the headings of a reply start at: under the page's h1 (the brand). */
const REPLY_HEADING = 2;

/**
 * Fits a finished reply's rendered HTML into the page, for every reader: web links open in a
 * new tab; an image without alt text gets alt="" (decorative to a screen reader: what it shows
 * is in the text around it, and Markdown's `![text](src)` keeps its text); headings continue
 * the page's outline (the reply's levels, in order, become h2, h3, … so none is skipped); code
 * blocks and tables, which scroll sideways when wide, can be reached and scrolled by keyboard.
 */
function fitPage(body) {
  for (const a of body.querySelectorAll('a[href^="http"]')) a.target = '_blank';
  for (const img of body.querySelectorAll('img:not([alt])')) img.alt = '';
  const headings = [...body.querySelectorAll('h1, h2, h3, h4, h5, h6')];
  const levels = [...new Set(headings.map((h) => Number(h.tagName[1])))].sort((a, b) => a - b);
  for (const h of headings) {
    const level = Math.min(6, REPLY_HEADING + levels.indexOf(Number(h.tagName[1])));
    if (`H${level}` === h.tagName) continue;
    const n = document.createElement(`h${level}`);
    for (const attr of h.attributes) n.setAttribute(attr.name, attr.value);
    n.append(...h.childNodes);
    h.replaceWith(n);
  }
  for (const wide of body.querySelectorAll('pre, table')) wide.tabIndex = 0;
}

/** Moves the focus to `e`, which is not a control (focusable from script only). */
function keepFocusOn(e) {
  e.tabIndex = -1;
  e.focus({ preventScroll: true });
}

/** One assistant reply: status, activity, streamed text, then the rendered HTML or an error. */
export class Reply {
  constructor() {
    this.root = el('article', 'msg assistant');
    this.root.setAttribute('aria-label', 'Paliadin');
    this.bubble = el('div', 'bubble');
    this.status = el('div', 'status');
    this.activity = el('div', 'activity');
    this.activity.hidden = true;
    this.body = el('div', 'body streaming');
    this.tools = el('div', 'tools');
    this.worklog = new WorkLog();
    this.bubble.append(this.status, this.activity, this.worklog.root, this.body, this.tools);
    this.root.append(logo(), this.bubble);
    this.linkUrl = null;
    this.text = '';
    this.done = false;
    this.onCancel = null;
    this.setBusy(true);
    this.setStatus('sending');
  }

  /** Names the reply by its turn: `id="turn-<id>"` (a link's target) and `link`, its URL. */
  setTurn(id, link) {
    this.root.id = `turn-${id}`;
    this.linkUrl = link;
    this.worklog.setTurn(id);
  }

  /** A step of the work log (`step` event); the activity line becomes the log's summary. */
  step(d) {
    this.worklog.add(d);
    this.placeActivity();
  }

  /** A finished turn of the history with `count` steps, fetched by `load()` when opened. */
  lazySteps(count, load) {
    this.worklog.lazy(count, load);
    this.placeActivity();
  }

  placeActivity() {
    if (this.worklog.has() && this.activity.parentNode !== this.worklog.summary) {
      this.worklog.summary.append(this.activity);
    }
  }

  /** Shows that a link named this reply: scrolled to, marked, focused (for a screen reader). */
  async highlight(step) {
    for (const x of document.querySelectorAll('.msg.linked')) x.classList.remove('linked');
    this.root.classList.add('linked');
    const target = step ? await this.worklog.open(step) : null;
    (target || this.root).scrollIntoView({ block: target ? 'center' : 'start', behavior: 'instant' });
    if (target) target.classList.add('linked');
    keepFocusOn(target || this.bubble);
  }

  setBusy(busy) {
    this.root.setAttribute('aria-busy', String(busy));
  }

  /**
   * `state` is a status key, `ahead` the number of turns before this one, `detail` the status
   * event's data (a `retrying` status's `attempt`, `of`, `next_in`).
   */
  setStatus(state, ahead, detail) {
    if (this.done) return;
    let label = STATUS[state] || state;
    if (state === 'queued' && ahead > 0) label = `Queued (${ahead} ahead)`;
    // Every agent of its host is at work (PALIADIN_MAX_LIVE_AGENTS): it starts once one is free.
    if (state === 'queued' && detail && detail.reason === 'agents_full') label = 'Queued: waiting for a free agent';
    const [attempt, of] = [Number(detail && detail.attempt), Number(detail && detail.of)];
    if (state === 'retrying' && attempt > 0 && of > 0) {
      label = `The model is busy: retrying (attempt ${attempt} of ${of})…`;
    }
    this.status.textContent = label;
    this.status.dataset.state = state;
    this.status.hidden = false;
  }

  setActivity(text) {
    this.activity.textContent = text;
    this.activity.title = text;
    this.activity.hidden = !text;
  }

  /** Appends a streamed piece of the reply as plain text. */
  append(delta) {
    this.text += delta;
    this.body.textContent = this.text;
  }

  /**
   * Shows the agent's permission request `p` ({request_id, tool, summary, options, expires_at})
   * with a button per offered answer; `onDecide(request_id, decision)` sends one. Shown once
   * per request (a replay or a second tab shows the same card).
   */
  ask(p, onDecide) {
    if (this.done || this.root.querySelector(`[data-request="${CSS.escape(p.request_id)}"]`)) return;
    const card = el('section', 'ask');
    card.dataset.request = p.request_id;
    card.setAttribute('role', 'group');
    const title = el('h2', 'ask-title', `Paliadin asks to use ${p.tool}`);
    title.id = `ask-${p.request_id}`;
    card.setAttribute('aria-labelledby', title.id);
    const what = el('pre', 'ask-summary', p.summary || '(no details)');
    what.tabIndex = 0; // it scrolls when long
    const buttons = el('div', 'ask-buttons');
    const labels = { allow: 'Allow', allow_always: 'Always allow', deny: 'Deny' };
    // While an answer is on its way the buttons are aria-disabled, not disabled: a disabled
    // button drops the keyboard focus, and decided() hands it on to the decision.
    let sending = false;
    const hold = (on) => {
      sending = on;
      for (const x of buttons.querySelectorAll('button')) {
        if (on) x.setAttribute('aria-disabled', 'true');
        else x.removeAttribute('aria-disabled');
      }
    };
    for (const option of p.options || ['allow', 'deny']) {
      const b = el('button', `btn small ${option === 'deny' ? 'danger' : option === 'allow' ? 'primary' : 'ghost'}`,
        labels[option] || option);
      b.type = 'button';
      b.dataset.decision = option;
      b.addEventListener('click', async () => {
        if (sending) return;
        hold(true);
        const ok = await onDecide(p.request_id, option);
        if (!ok) hold(false);
      });
      buttons.append(b);
    }
    const until = el('p', 'hint', p.expires_at ? `Denied automatically at ${new Date(p.expires_at).toLocaleTimeString()} if nobody answers.` : '');
    card.append(title, what, buttons, until);
    this.bubble.insertBefore(card, this.body);
    this.setStatus('waiting');
    const first = buttons.querySelector('button');
    if (first) first.focus({ preventScroll: true });
  }

  /** The agent shows a question in its terminal that no hook reported: show its screen. */
  terminalQuestion(screen) {
    if (this.done) return;
    let card = this.root.querySelector('.ask.terminal');
    if (!card) {
      card = el('section', 'ask terminal');
      const screen = el('pre', 'ask-summary');
      screen.tabIndex = 0;
      card.append(el('h2', 'ask-title', 'Paliadin asks something in its terminal'),
        screen,
        el('p', 'hint', 'Answer it in the agent\'s terminal, or cancel this turn.'));
      this.bubble.insertBefore(card, this.body);
    }
    card.querySelector('.ask-summary').textContent = screen;
    this.setStatus('waiting');
  }

  /** A request was answered (here, in another tab, or by the expiry). */
  decided(d) {
    const card = this.root.querySelector(`[data-request="${CSS.escape(d.request_id)}"]`);
    if (!card) return;
    const by = d.by === 'expired' ? ' (nobody answered in time)' : '';
    const note = el('p', `ask-decided ${d.decision === 'deny' ? 'denied' : 'allowed'}`,
      `${DECIDED[d.decision] || d.decision}${by}`);
    const buttons = card.querySelector('.ask-buttons');
    const focused = buttons.contains(document.activeElement);
    buttons.replaceWith(note);
    if (focused) keepFocusOn(note);
    const hint = card.querySelector('.hint');
    if (hint) hint.remove();
    card.dataset.decided = d.decision;
    if (!this.root.querySelector('.ask:not([data-decided])')) this.setStatus('answering');
  }

  /** Shows a cancel button while the turn is unfinished. */
  cancellable(onCancel) {
    this.onCancel = onCancel;
    if (this.cancelBtn || this.done) return;
    this.cancelBtn = el('button', 'btn small cancel', 'Cancel');
    this.cancelBtn.type = 'button';
    this.cancelBtn.addEventListener('click', () => this.onCancel && this.onCancel());
    this.tools.append(this.cancelBtn);
  }

  finishCommon() {
    // A focused Cancel goes with the tools: its reply keeps the focus (see settleFocus).
    this.hadFocus = this.tools.contains(document.activeElement);
    this.done = true;
    this.setBusy(false);
    this.status.hidden = true;
    this.setActivity(''); // a work log's summary is then its title and count
    this.tools.replaceChildren();
    this.cancelBtn = null;
  }

  /** The finished reply: server-rendered, sanitised HTML (or plain text when there is none). */
  finish(text, html) {
    this.finishCommon();
    this.text = text || this.text;
    if (typeof html === 'string') {
      this.body.className = 'body rendered';
      this.body.innerHTML = html;
      fitPage(this.body);
    } else {
      this.body.className = 'body plain';
      this.body.textContent = this.text;
    }
    this.addCopy();
    this.addLink();
    this.settleFocus();
  }

  /** A button that copies the reply's link (its URL is also the button's `data-url`). */
  addLink() {
    if (!this.linkUrl) return;
    const url = new URL(this.linkUrl, location.origin).href;
    const b = el('button', 'btn small link', 'Link');
    b.type = 'button';
    b.dataset.url = url;
    b.setAttribute('aria-label', 'Copy a link to this reply');
    b.title = url;
    b.addEventListener('click', async () => {
      const ok = await copyText(url);
      b.textContent = ok ? 'Link copied' : 'Copy failed';
      setTimeout(() => { b.textContent = 'Link'; }, 1500);
    });
    this.tools.append(b);
  }

  /** After the reply ended with the focus in its tools: its first button, else the reply. */
  settleFocus() {
    if (!this.hadFocus) return;
    this.hadFocus = false;
    const b = this.tools.querySelector('button');
    if (b) b.focus({ preventScroll: true });
    else keepFocusOn(this.bubble);
  }

  addCopy() {
    const b = el('button', 'btn small copy', 'Copy');
    b.type = 'button';
    b.setAttribute('aria-label', 'Copy reply');
    b.addEventListener('click', async () => {
      const ok = await copyText(this.text);
      b.textContent = ok ? 'Copied' : 'Copy failed';
      setTimeout(() => { b.textContent = 'Copy'; }, 1500);
    });
    this.tools.append(b);
  }

  /**
   * A terminal error: friendly text per code (per kind for `agent_error`), the server's
   * message, and a retry button where trying again can help.
   */
  fail(code, message, onRetry, kind) {
    this.finishCommon();
    this.body.className = 'body plain';
    this.body.textContent = this.text;
    this.body.hidden = !this.text;
    const box = el('div', 'notice error');
    box.dataset.code = code || '';
    const [sentence, retry] = (code === 'agent_error' && AGENT_ERRORS[kind]) ||
      [ERRORS[code] || 'Something went wrong.', true];
    if (kind) box.dataset.kind = kind;
    box.append(el('strong', null, sentence));
    if (message) box.append(el('span', 'detail', message));
    this.bubble.insertBefore(box, this.tools);
    if (onRetry && retry) {
      const b = el('button', 'btn small retry', 'Try again');
      b.type = 'button';
      b.addEventListener('click', onRetry);
      this.tools.append(b);
    }
    this.addLink();
    this.settleFocus();
  }

  cancelled() {
    this.finishCommon();
    this.body.className = 'body plain';
    this.body.textContent = this.text;
    this.body.hidden = !this.text;
    this.bubble.insertBefore(el('div', 'notice cancelled', 'Cancelled'), this.tools);
    this.addLink();
    this.settleFocus();
  }
}

/** Clipboard API where available (secure contexts), else a hidden textarea + execCommand. */
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch (e) { /* fall through */ }
  const ta = el('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.className = 'sr-only';
  document.body.append(ta);
  ta.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
  ta.remove();
  return ok;
}
