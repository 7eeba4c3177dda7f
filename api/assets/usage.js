// usage.js: what the model spent. Under each reply, a small line ("1,234 tokens · $0.0123")
// that opens to the breakdown (model, input, output, cache read, cache write, cost); in the
// thread header, the conversation's total and its context fill (the last request's prompt over
// the model's context window). The numbers come from the `usage` of `end` events and of the
// history (`docs/web.md`, "Usage").

const number = new Intl.NumberFormat('en');

/** All tokens of a usage, every kind. */
export function tokens(u) {
  return u.input + u.output + u.cache_read + u.cache_creation;
}

function dollars(c) {
  return c < 1 ? `$${c.toFixed(4)}` : `$${c.toFixed(2)}`;
}

function summary(total, cost) {
  const t = `${number.format(total)} tokens`;
  return typeof cost === 'number' ? `${t} · ${dollars(cost)}` : t;
}

/** The expandable usage line of one reply. */
export function usageLine(u) {
  const details = document.createElement('details');
  details.className = 'usage';
  const head = document.createElement('summary');
  head.textContent = summary(tokens(u), u.cost_usd);
  const list = document.createElement('dl');
  const rows = [
    ['Model', u.model || 'unknown'],
    ['Input', number.format(u.input)],
    ['Output', number.format(u.output)],
    ['Cache read', number.format(u.cache_read)],
    ['Cache write', number.format(u.cache_creation)],
    ['Cost', typeof u.cost_usd === 'number' ? dollars(u.cost_usd) : 'no price for this model'],
  ];
  for (const [k, v] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    list.append(dt, dd);
  }
  details.append(head, list);
  return details;
}

/** The conversation's total and context fill, shown in `el` (hidden while nothing is known). */
export class UsageTotal {
  constructor(el) {
    this.el = el;
    this.reset();
  }

  reset() {
    this.byTurn = new Map();
    this.last = null;
    this.render();
  }

  /** Counts a turn's usage (again: a turn counted twice keeps its latest numbers). */
  add(turnId, u) {
    this.byTurn.set(turnId, u);
    this.last = u;
    this.render();
  }

  render() {
    if (!this.el) return;
    const all = [...this.byTurn.values()];
    this.el.hidden = all.length === 0;
    if (!all.length) {
      this.el.textContent = '';
      return;
    }
    const total = all.reduce((s, u) => s + tokens(u), 0);
    const priced = all.filter((u) => typeof u.cost_usd === 'number');
    const cost = priced.length ? priced.reduce((s, u) => s + u.cost_usd, 0) : undefined;
    let text = `This conversation: ${summary(total, cost)}`;
    const last = this.last;
    if (last && last.context_window > 0) {
      const fill = Math.min(100, Math.round((100 * (last.context || 0)) / last.context_window));
      text += ` · context ${fill}% full (${number.format(last.context || 0)} of ${number.format(last.context_window)})`;
      this.el.dataset.fill = String(fill);
    }
    this.el.textContent = text;
  }
}
