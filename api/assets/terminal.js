// terminal.js: the chat page's Terminal panel. Shows the agent's terminal, live and read-only,
// from GET /api/paliadin/conversations/{session_id}/terminal (server-sent events: `screen`
// frames — the whole visible pane with its colours — and `problem` notes), rendered with
// xterm.js (vendored: /assets/xterm.mjs, fetched by deploy/fetch-xterm.sh). Nothing typed here
// goes anywhere: the terminal takes no input (disableStdin) and the page has no route to send
// any. The panel opens from the header's Terminal button, takes the focus, closes with Escape
// or its Close button and gives the focus back to the button.

const $ = (id) => document.getElementById(id);
const MAX_COLS = 500;
const MAX_ROWS = 200;

let loaded = null; // Promise of the xterm module, loaded on first use

/** A stylesheet link, resolved once it has loaded (or failed: the panel still works). */
function stylesheet(href) {
  return new Promise((resolve) => {
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = href;
    link.addEventListener('load', resolve, { once: true });
    link.addEventListener('error', resolve, { once: true });
    document.head.append(link);
  });
}

/**
 * The page's CSP allows no inline style. xterm.js styles its cells with `<style>` elements and
 * `setAttribute('style', …)`, which that policy blocks; both are redone here through the CSSOM
 * (a constructed stylesheet, `element.style`), which it allows: same rules, nothing inline.
 */
function cssomStyles(container) {
  const sheet = new CSSStyleSheet();
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
  const mirror = () => {
    const text = [...container.querySelectorAll('style')].map((s) => s.textContent).join('\n');
    try { sheet.replaceSync(text); } catch (e) { /* an unparsable rule: keep the last good set */ }
  };
  new MutationObserver(mirror).observe(container, { subtree: true, childList: true, characterData: true });
  mirror();
  const setAttribute = Element.prototype.setAttribute;
  if (!setAttribute.paliadinCssom) {
    const patched = function (name, value) {
      if (String(name).toLowerCase() === 'style' && this instanceof HTMLElement) {
        this.style.cssText = String(value);
        return;
      }
      setAttribute.call(this, name, value);
    };
    patched.paliadinCssom = true;
    Element.prototype.setAttribute = patched;
  }
}

function loadXterm() {
  if (!loaded) {
    loaded = Promise.all([
      import('./xterm.mjs'),
      stylesheet('/assets/xterm.css'),
      stylesheet('/assets/terminal.css'),
    ]).then(([mod]) => mod);
  }
  return loaded;
}

/** The panel, made once: a labelled, non-modal dialog over the page. */
function buildPanel() {
  const panel = document.createElement('section');
  panel.id = 'terminal';
  panel.className = 'terminal-panel';
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-modal', 'false');
  panel.setAttribute('aria-labelledby', 'terminal-title');
  panel.setAttribute('aria-describedby', 'terminal-note');
  panel.hidden = true;
  const head = document.createElement('div');
  head.className = 'terminal-head';
  const title = document.createElement('h2');
  title.id = 'terminal-title';
  title.textContent = 'Terminal';
  const close = document.createElement('button');
  close.id = 'terminal-close';
  close.type = 'button';
  close.className = 'btn small ghost';
  close.textContent = 'Close';
  close.setAttribute('aria-label', 'Close the terminal');
  head.append(title, close);
  const note = document.createElement('p');
  note.id = 'terminal-note';
  note.className = 'hint';
  note.textContent = 'The agent\u2019s terminal, live and read-only: nothing typed here reaches it.';
  const status = document.createElement('p');
  status.id = 'terminal-status';
  status.className = 'terminal-status';
  status.setAttribute('role', 'status');
  const screen = document.createElement('div');
  screen.id = 'terminal-screen';
  screen.className = 'terminal-screen';
  screen.setAttribute('role', 'region');
  screen.setAttribute('aria-label', 'Terminal output');
  screen.tabIndex = 0;
  panel.append(head, note, status, screen);
  document.body.append(panel);
  return { panel, close, status, screen };
}

/**
 * Wires the Terminal button. `current()` is the conversation shown now; a frame that arrives
 * after the page switched conversations reopens the view for the new one.
 */
export function setupTerminal({ current }) {
  const toggle = $('terminal-toggle');
  if (!toggle) return;
  let ui = null;
  let term = null;
  let source = null;
  let viewing = null;
  let lastSize = '';

  function say(text) {
    if (ui && ui.status.textContent !== text) ui.status.textContent = text;
  }

  function draw(f) {
    const cols = Math.min(Math.max(f.cols | 0, 2), MAX_COLS);
    const rows = Math.min(Math.max(f.rows | 0, 1), MAX_ROWS);
    if (`${cols}x${rows}` !== lastSize) {
      term.resize(cols, rows);
      lastSize = `${cols}x${rows}`;
    }
    const lines = String(f.screen).replace(/\n$/, '').split('\n');
    const cursor = `\x1b[${(f.cursor_y | 0) + 1};${(f.cursor_x | 0) + 1}H`;
    term.write(`\x1b[0m\x1b[H\x1b[2J${lines.join('\x1b[0m\r\n')}\x1b[0m${cursor}`);
    ui.screen.dataset.seq = String(f.seq);
  }

  function follow(id) {
    if (source) source.close();
    viewing = id;
    say('Connecting\u2026');
    source = new EventSource(`/api/paliadin/conversations/${encodeURIComponent(id)}/terminal`);
    source.addEventListener('screen', (e) => {
      if (current() !== viewing) { follow(current()); return; }
      let f;
      try { f = JSON.parse(e.data); } catch (err) { return; }
      draw(f);
      say('Live');
    });
    source.addEventListener('problem', (e) => {
      try { say(JSON.parse(e.data).message); } catch (err) { /* ignored */ }
    });
    source.addEventListener('error', () => {
      if (source && source.readyState === EventSource.CLOSED) {
        say('The terminal is not available for this conversation.');
      } else {
        say('Reconnecting\u2026');
      }
    });
  }

  async function open() {
    if (!ui) {
      ui = buildPanel();
      ui.close.addEventListener('click', close);
      ui.panel.addEventListener('keydown', (e) => {
        if (e.key === 'Escape') { e.preventDefault(); close(); }
      });
    }
    ui.panel.hidden = false;
    toggle.setAttribute('aria-expanded', 'true');
    ui.close.focus();
    const id = current();
    if (!id) { say('Send a message first: the terminal belongs to a conversation.'); return; }
    say('Loading\u2026');
    const mod = await loadXterm();
    if (ui.panel.hidden) return; // closed while loading
    if (!term) {
      cssomStyles(ui.screen);
      term = new mod.Terminal({
        disableStdin: true,
        cursorBlink: false,
        scrollback: 0,
        convertEol: false,
        fontSize: 13,
        fontFamily: 'ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace',
        theme: { background: '#0d0f14', foreground: '#e7e9ee' },
        screenReaderMode: true,
      });
      term.open(ui.screen);
    }
    follow(id);
  }

  function close() {
    if (source) { source.close(); source = null; }
    viewing = null;
    if (ui) ui.panel.hidden = true;
    toggle.setAttribute('aria-expanded', 'false');
    toggle.focus();
  }

  toggle.addEventListener('click', () => {
    if (ui && !ui.panel.hidden) close(); else open();
  });
}
