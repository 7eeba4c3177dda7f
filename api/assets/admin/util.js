// util.js: the dashboard's small helpers: the JSON fetch (with the API's error shape), number
// and time formatting, and table-building shortcuts that only ever set textContent.

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error;
  }
}

// GET a JSON document with the session cookie; non-2xx becomes an ApiError.
export async function api(path) {
  const r = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) throw new ApiError(r.status, body);
  return body;
}

// Milliseconds as "840 ms", "3.2 s", "4.5 min".
export function ms(v) {
  if (v == null || Number.isNaN(v)) return '–';
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60000) return `${(v / 1000).toFixed(v < 10000 ? 2 : 1)} s`;
  return `${(v / 60000).toFixed(1)} min`;
}

// Seconds as "12 s", "3 min", "2 h", "4 d".
export function secs(v) {
  if (v == null) return '–';
  if (v < 90) return `${Math.round(v)} s`;
  if (v < 5400) return `${Math.round(v / 60)} min`;
  if (v < 172800) return `${Math.round(v / 3600)} h`;
  return `${Math.round(v / 86400)} d`;
}

// "12 s ago" for an ISO timestamp.
export function ago(iso) {
  return `${secs(Math.max(0, (Date.now() - Date.parse(iso)) / 1000))} ago`;
}

export function num(v) {
  return v == null ? '–' : Number(v).toLocaleString();
}

export function row(tbody) {
  const tr = document.createElement('tr');
  tbody.appendChild(tr);
  return tr;
}

export function cell(tr, text, cls) {
  const td = document.createElement('td');
  if (text != null) td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

// A coloured status label, class `p-<status>` (admin.css colours the usual ones).
export function pill(parent, status) {
  const s = document.createElement('span');
  s.className = `pill p-${String(status).replace(/[^a-z_]/g, '')}`;
  s.textContent = status;
  parent.appendChild(s);
  return s;
}

// Fills a table body, or shows `none` across `cols` columns when there are no rows.
export function fill(tbody, items, cols, none, each) {
  tbody.textContent = '';
  if (!items.length) {
    const td = cell(row(tbody), none, 'empty');
    td.colSpan = cols;
    return;
  }
  for (const it of items) each(row(tbody), it);
}
