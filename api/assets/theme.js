// theme.js: applies the saved light/dark choice before the first paint (it is loaded
// synchronously in <head>) and wires the #theme-toggle button. Without a saved choice the page
// follows prefers-color-scheme.
(function () {
  'use strict';
  var KEY = 'paliadin.theme';
  var root = document.documentElement;
  var dark = window.matchMedia('(prefers-color-scheme: dark)');

  function saved() {
    try { return localStorage.getItem(KEY); } catch (e) { return null; }
  }
  function effective() {
    var t = root.getAttribute('data-theme');
    if (t === 'light' || t === 'dark') return t;
    return dark.matches ? 'dark' : 'light';
  }
  var initial = saved();
  if (initial === 'light' || initial === 'dark') root.setAttribute('data-theme', initial);

  function label(btn) {
    var isDark = effective() === 'dark';
    btn.setAttribute('aria-pressed', String(isDark));
    var text = isDark ? 'Switch to light theme' : 'Switch to dark theme';
    btn.setAttribute('aria-label', text);
    btn.title = text;
  }

  document.addEventListener('DOMContentLoaded', function () {
    var btn = document.getElementById('theme-toggle');
    if (!btn) return;
    label(btn);
    btn.addEventListener('click', function () {
      var next = effective() === 'dark' ? 'light' : 'dark';
      root.setAttribute('data-theme', next);
      try { localStorage.setItem(KEY, next); } catch (e) { /* private mode: not remembered */ }
      label(btn);
    });
    dark.addEventListener('change', function () { label(btn); });
  });
})();
