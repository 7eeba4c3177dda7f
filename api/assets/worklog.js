// worklog.js: a reply's work log, what the agent said and did on the way (`step` events,
// docs/agent-protocol.md "Work log"). A <details> whose <summary> is the one-line activity while
// the turn runs and "Work log · N steps" after it; its list fills live. Every step is agent
// output and only ever set through textContent. For a finished turn of the history the steps
// are fetched when the person first opens the log (the turn's stream replays them).

/** Most steps one log shows: the server's 200 and the marker of a cut log. */
export const MAX_STEPS = 201;
/** Longest text of one field shown (the server cuts to 2000; this only guards the page). */
const MAX_TEXT = 4000;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function cut(v) {
  const s = typeof v === 'string' ? v : '';
  return s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}…` : s;
}

function plural(n) {
  return n === 1 ? '1 step' : `${n} steps`;
}

/** The list item of step `d` ({n, kind, …}) of turn `turnId`; null for a kind not known. */
function stepItem(turnId, d) {
  const n = Number(d.n);
  const li = el('li', `step ${d.kind}`);
  li.dataset.n = String(n);
  if (turnId) li.id = `turn-${turnId}-step-${n}`;
  switch (d.kind) {
    case 'text':
      if (d.more) li.classList.add('more');
      li.append(el('p', 'step-text', cut(d.text)));
      break;
    case 'thinking':
      li.append(el('span', 'step-label', 'Thinking'), el('p', 'step-text', cut(d.text)));
      break;
    case 'tool':
      li.append(el('span', 'step-label', 'Tool'), el('span', 'step-tool', cut(d.tool)), ' ',
        el('code', 'step-summary', cut(d.summary)));
      break;
    case 'tool_result': {
      const ok = d.ok !== false;
      li.classList.add(ok ? 'ok' : 'failed');
      li.append(el('span', 'step-label', ok ? '✓ Result' : '✗ Error'));
      if (d.tool) li.append(el('span', 'step-tool', cut(d.tool)));
      const excerpt = cut(d.excerpt);
      if (excerpt) {
        const pre = el('pre', 'step-excerpt', excerpt);
        pre.tabIndex = 0; // it scrolls when long
        li.append(pre);
      }
      break;
    }
    default:
      return null;
  }
  return li;
}

/**
 * The work log of one reply. `root` is the <details>, hidden until there is a step; the reply
 * moves its one-line activity into `summary` then.
 */
export class WorkLog {
  constructor() {
    this.root = el('details', 'worklog');
    this.root.hidden = true;
    this.summary = el('summary');
    this.title = el('span', 'worklog-title', 'Work log');
    this.count = el('span', 'worklog-count');
    this.summary.append(this.title, this.count);
    this.list = el('ol', 'steps');
    this.list.setAttribute('aria-label', 'Steps');
    this.note = el('p', 'worklog-note');
    this.note.hidden = true;
    this.root.append(this.summary, this.list, this.note);
    this.turnId = null;
    this.total = 0; // steps known to exist (shown, or counted by the history)
    this.loader = null; // () => Promise<steps[]>, for a finished turn not loaded yet
    this.loading = null;
    this.root.addEventListener('toggle', () => { if (this.root.open) this.load().catch(() => {}); });
  }

  setTurn(id) {
    this.turnId = id;
    for (const li of this.list.children) li.id = `turn-${id}-step-${li.dataset.n}`;
  }

  /** Whether the log has steps (or knows it has some). */
  has() {
    return this.total > 0;
  }

  render() {
    this.root.hidden = this.total === 0;
    this.count.textContent = this.total ? plural(this.total) : '';
  }

  /** Adds step `d`, once per `n`, in order; at most MAX_STEPS. */
  add(d) {
    const n = Number(d && d.n);
    if (!Number.isInteger(n) || n < 1) return;
    if (this.list.querySelector(`:scope > [data-n="${n}"]`)) return;
    if (this.list.children.length >= MAX_STEPS) return;
    const li = stepItem(this.turnId, d);
    if (!li) return;
    const after = [...this.list.children].find((x) => Number(x.dataset.n) > n);
    this.list.insertBefore(li, after || null);
    this.total = Math.max(this.total, this.list.children.length);
    this.render();
  }

  /** A finished turn with `count` steps: `loader()` fetches them when the log is opened. */
  lazy(count, loader) {
    if (!(count > 0) || this.list.children.length) return;
    this.total = Math.min(count, MAX_STEPS);
    this.loader = loader;
    this.render();
  }

  /** Loads the steps of a lazy log (once; again after a failure). */
  load() {
    if (!this.loader) return Promise.resolve();
    if (this.loading) return this.loading;
    this.list.setAttribute('aria-busy', 'true');
    this.showNote('Loading the steps…');
    this.loading = this.loader().then((steps) => {
      this.loader = null;
      for (const s of steps) this.add(s);
      this.showNote(this.list.children.length ? '' : 'No steps.');
    }, (e) => {
      this.showNote('The steps could not be loaded. Close and open the log to try again.');
      throw e;
    }).finally(() => {
      this.list.removeAttribute('aria-busy');
      this.loading = null;
    });
    return this.loading;
  }

  showNote(text) {
    this.note.textContent = text;
    this.note.hidden = !text;
  }

  /** Opens the log and, once its steps are there, returns step `n`'s element (or null). */
  async open(n) {
    this.root.open = true;
    await this.load().catch(() => {});
    return n ? this.list.querySelector(`:scope > [data-n="${Number(n)}"]`) : null;
  }
}
