// charts.js: three small inline-SVG charts for the dashboard (stacked bars, lines, area), drawn
// by hand with no library. Each takes the container, the minute timestamps (ISO strings) and
// the series; sizes come from the container, colours from CSS classes (admin.css).

const NS = 'http://www.w3.org/2000/svg';
const PAD = { top: 10, right: 8, bottom: 22, left: 44 };

function el(name, attrs, parent) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}

function title(parent, text) {
  el('title', {}, parent).textContent = text;
}

// The y axis top: four equal steps of 1, 2 or 5 times a power of ten, reaching `max`
// (counts step by whole numbers: 3 gets 0–4; 137 ms gets 0–200 in steps of 50).
function niceMax(max, integer) {
  if (!(max > 0)) return 4;
  const raw = integer ? Math.max(1, max / 4) : max / 4;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return 4 * m * p;
  return 40 * p;
}

function hhmm(iso) {
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

// Creates the SVG with grid lines, y labels (formatted by `fmt`) and x labels every 15 minutes.
function frame(container, times, yMax, fmt) {
  container.textContent = '';
  const w = Math.max(container.clientWidth, 240);
  const h = Math.max(container.clientHeight, 120);
  const svg = el('svg', { viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: 'none' }, container);
  const iw = w - PAD.left - PAD.right;
  const ih = h - PAD.top - PAD.bottom;
  for (let i = 0; i <= 4; i++) {
    const y = PAD.top + ih - (ih * i) / 4;
    el('line', { x1: PAD.left, x2: w - PAD.right, y1: y, y2: y, class: 'gridline' }, svg);
    const t = el('text', { x: PAD.left - 6, y: y + 3.5, 'text-anchor': 'end', class: 'axis' }, svg);
    t.textContent = fmt((yMax * i) / 4);
  }
  const n = times.length;
  const step = n > 0 ? iw / n : iw;
  times.forEach((t, i) => {
    if (i % 15 !== 0 && i !== n - 1) return;
    const x = PAD.left + step * i + step / 2;
    const anchor = i === n - 1 ? 'end' : 'middle';
    const label = el('text', { x, y: h - 6, 'text-anchor': anchor, class: 'axis' }, svg);
    label.textContent = i === n - 1 ? 'now' : hhmm(t);
  });
  return {
    svg, w, h, step,
    x: (i) => PAD.left + step * i,
    y: (v) => PAD.top + ih - (ih * Math.min(v, yMax)) / yMax,
  };
}

function empty(f, text) {
  const t = el('text', { x: f.w / 2, y: f.h / 2, 'text-anchor': 'middle', class: 'empty' }, f.svg);
  t.textContent = text;
}

const count = (v) => (v >= 1000 ? `${(v / 1000).toFixed(v >= 10000 ? 0 : 1)}k` : String(Math.round(v * 10) / 10));

// Stacked bars: `stacks` = [{ cls, name, values }], one value per minute.
export function stackedBars(container, times, stacks) {
  const totals = times.map((_, i) => stacks.reduce((s, k) => s + (k.values[i] || 0), 0));
  const max = niceMax(Math.max(0, ...totals), true);
  const f = frame(container, times, max, count);
  if (totals.every((t) => t === 0)) return empty(f, 'No turns finished in the last hour');
  const bw = Math.max(1, f.step * 0.72);
  times.forEach((t, i) => {
    let base = 0;
    for (const k of stacks) {
      const v = k.values[i] || 0;
      if (v <= 0) continue;
      const y0 = f.y(base);
      const y1 = f.y(base + v);
      const r = el('rect', { x: f.x(i) + (f.step - bw) / 2, y: y1, width: bw, height: Math.max(0.5, y0 - y1), class: k.cls }, f.svg);
      title(r, `${hhmm(t)} · ${k.name}: ${v}`);
      base += v;
    }
  });
}

// Lines with gaps where a value is null: `series` = [{ cls, name, values }].
export function lines(container, times, series, fmt) {
  const all = series.flatMap((s) => s.values).filter((v) => v != null);
  const max = niceMax(Math.max(0, ...all));
  const f = frame(container, times, max, fmt);
  if (all.length === 0) return empty(f, 'No successful turns in the last hour');
  for (const s of series) {
    let d = '';
    let pen = false;
    s.values.forEach((v, i) => {
      if (v == null) { pen = false; return; }
      const x = f.x(i) + f.step / 2;
      d += `${pen ? 'L' : 'M'}${x.toFixed(1)},${f.y(v).toFixed(1)}`;
      pen = true;
      const c = el('circle', { cx: x, cy: f.y(v), r: 2.4, class: `dot ${s.cls.replace('l-', 'd-')}` }, f.svg);
      title(c, `${hhmm(times[i])} · ${s.name}: ${fmt(v)}`);
    });
    if (d) el('path', { d, class: s.cls }, f.svg);
  }
}

// A filled step area (counts that hold until the next minute).
export function area(container, times, values, name) {
  const max = niceMax(Math.max(0, ...values), true);
  const f = frame(container, times, max, count);
  if (values.every((v) => !v)) return empty(f, 'No turn waited in the last hour');
  let d = `M${f.x(0)},${f.y(0)}`;
  values.forEach((v, i) => {
    d += `L${f.x(i).toFixed(1)},${f.y(v).toFixed(1)}L${f.x(i + 1).toFixed(1)},${f.y(v).toFixed(1)}`;
  });
  d += `L${f.x(values.length)},${f.y(0)}Z`;
  const p = el('path', { d, class: 'a-accent' }, f.svg);
  title(p, `${name}: now ${values[values.length - 1] || 0}, peak ${Math.max(...values)}`);
}
