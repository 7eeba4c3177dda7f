// uploads.js: files and images for the agent (docs/web.md, "Files and images"). The composer
// takes them by paste, drop, the paperclip (any file) and, on a phone, the camera; each is sent
// at once to `POST /api/paliadin/uploads?name=…` (the server reads its type from the bytes and
// makes its name safe) and shown as a chip in the tray above the message box until the message
// goes with their ids (`upload_ids`). Sent messages and replays show them as thumbnails
// (raster images) or chips, served back by `GET /api/paliadin/uploads/{id}` to their owner only.

const INLINE = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** `1.2 MB`, `340 KB`, `12 B`. */
export function sizeText(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${Math.round(n / 1e3)} KB`;
  return `${n} B`;
}

/** One sent file: a thumbnail that opens the image, or a chip that downloads the file. */
function sentItem(u) {
  const href = `/api/paliadin/uploads/${encodeURIComponent(u.upload_id)}`;
  const li = el('li', 'upload');
  const a = el('a');
  a.href = href;
  a.target = '_blank';
  a.rel = 'noopener';
  if (INLINE.includes(u.content_type)) {
    li.classList.add('image');
    const img = el('img');
    img.src = href;
    img.alt = u.name;
    img.loading = 'lazy';
    a.append(img);
    a.title = u.name;
  } else {
    a.download = u.name;
    a.append(el('span', 'upload-name', u.name), el('span', 'upload-size', sizeText(u.size)));
  }
  li.append(a);
  return li;
}

/** The files of a sent message, in order (empty list: nothing). */
export function sentUploads(uploads) {
  if (!Array.isArray(uploads) || uploads.length === 0) return null;
  const ul = el('ul', 'uploads sent');
  ul.setAttribute('aria-label', uploads.length === 1 ? 'Sent file' : `${uploads.length} sent files`);
  for (const u of uploads) ul.append(sentItem(u));
  return ul;
}

/**
 * The composer's tray. `opts`: {tray, pick, camera, pickInput, cameraInput, dropZone (where
 * files may be dropped), highlight (shown while they are dragged over), input, toast, announce,
 * signedOut}. Returns {ready(), take(), restore(list), busy()}.
 */
export function setupUploads(opts) {
  const { tray, toast, announce } = opts;
  let items = []; // {key, name, size, state: 'uploading'|'ready'|'failed', meta, li, done}
  let next = 0;

  function refresh() {
    tray.hidden = items.length === 0;
  }

  function remove(item) {
    items = items.filter((i) => i !== item);
    item.li.remove();
    refresh();
    announce(`Removed ${item.name}`);
    opts.input.focus();
  }

  function chip(item) {
    const li = el('li', 'upload pending');
    li.dataset.state = item.state;
    const name = el('span', 'upload-name', item.name);
    const state = el('span', 'upload-size', 'Uploading…');
    const x = el('button', 'btn icon ghost small upload-remove');
    x.type = 'button';
    x.setAttribute('aria-label', `Remove ${item.name}`);
    x.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M7 7l10 10M17 7L7 17" class="stroke"/></svg>';
    x.addEventListener('click', () => remove(item));
    li.append(name, state, x);
    item.li = li;
    item.stateEl = state;
    return li;
  }

  async function send(item, file) {
    const q = new URLSearchParams({ name: item.name });
    let r;
    let data = null;
    try {
      r = await fetch(`/api/paliadin/uploads?${q}`, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { Accept: 'application/json', 'Content-Type': 'application/octet-stream' },
        body: file,
      });
      try { data = await r.json(); } catch (e) { data = null; }
    } catch (e) {
      r = null;
    }
    if (r && r.status === 404) { opts.signedOut(); return; }
    if (r && r.status === 201 && data) {
      item.state = 'ready';
      item.meta = data;
      item.name = data.name;
      item.li.querySelector('.upload-name').textContent = data.name;
      item.stateEl.textContent = sizeText(data.size);
      if (INLINE.includes(data.content_type)) {
        const img = el('img');
        img.src = `/api/paliadin/uploads/${encodeURIComponent(data.upload_id)}`;
        img.alt = '';
        item.li.prepend(img);
        item.li.classList.add('image');
      }
      announce(`${data.name} attached`);
    } else {
      item.state = 'failed';
      const why = (data && data.message) || 'could not be uploaded';
      item.stateEl.textContent = 'Failed';
      toast(`${item.name}: ${why}`);
    }
    item.li.dataset.state = item.state;
  }

  function add(files) {
    for (const file of files) {
      // A pasted screenshot often has no name, or a generic one: give it a useful one.
      let name = (file.name || '').trim();
      if (!name || name === 'image.png') {
        const ext = (file.type.split('/')[1] || 'png').replace(/[^a-z0-9]/g, '');
        name = `pasted-${new Date().toISOString().replace(/[:.]/g, '-')}-${++next}.${ext}`;
      }
      const item = { name, size: file.size, state: 'uploading', meta: null };
      tray.append(chip(item));
      items.push(item);
      item.done = send(item, file);
    }
    refresh();
  }

  opts.pick.addEventListener('click', () => opts.pickInput.click());
  opts.camera.addEventListener('click', () => opts.cameraInput.click());
  // The camera on a phone (a touch screen); elsewhere the paperclip picks images too.
  opts.camera.hidden = !window.matchMedia('(pointer: coarse)').matches;
  for (const inp of [opts.pickInput, opts.cameraInput]) {
    inp.addEventListener('change', () => {
      add([...inp.files]);
      inp.value = '';
    });
  }
  opts.input.addEventListener('paste', (e) => {
    const files = [...((e.clipboardData && e.clipboardData.files) || [])];
    if (files.length === 0) return;
    // A file only (a screenshot): nothing to paste as text.
    if (!e.clipboardData.getData('text/plain')) e.preventDefault();
    add(files);
  });
  const zone = opts.dropZone;
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  zone.addEventListener('dragover', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    opts.highlight.classList.add('dropping');
  });
  zone.addEventListener('dragleave', () => opts.highlight.classList.remove('dropping'));
  zone.addEventListener('drop', (e) => {
    opts.highlight.classList.remove('dropping');
    if (!hasFiles(e)) return;
    e.preventDefault();
    add([...e.dataTransfer.files]);
  });

  return {
    /** Whether files still upload. */
    busy: () => items.some((i) => i.state === 'uploading'),
    /** Waits for the uploads under way. */
    ready: () => Promise.all(items.map((i) => i.done)),
    /** The uploaded files, for a message; empties the tray (failed ones are dropped). */
    take() {
      const sent = items.filter((i) => i.state === 'ready').map((i) => i.meta);
      for (const i of items) i.li.remove();
      items = [];
      refresh();
      return sent;
    },
    /** The message did not go: its files back in the tray. */
    restore(list) {
      for (const meta of list) {
        const item = { name: meta.name, size: meta.size, state: 'ready', meta, done: Promise.resolve() };
        tray.append(chip(item));
        item.stateEl.textContent = sizeText(meta.size);
        item.li.dataset.state = 'ready';
        items.push(item);
      }
      refresh();
    },
  };
}
