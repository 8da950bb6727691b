// The fallback link for networks that block WebSockets (docs/protocol.md section 13): the
// server's frames come as Server-Sent Events on GET /api/v1/events (read with fetch, so the
// token goes in a header and every event name arrives in one place), the client's go up in
// POST /api/v1/frames?stream=<id>, one request at a time so they keep their order, batched
// while one is out. A POST's replies come back in its answer and are reported like frames.
// The same interface as link-ws.js.

// The id of the last event read: a reconnection names it (Last-Event-ID) to resume.
let lastEventId = null;

export function forgetStream() { lastEventId = null; }

// No byte for this long (the server sends a heartbeat every 15 s): the stream is dead.
const SILENCE_MS = 40000;
const MAX_FRAMES = 100;
const encoder = new TextEncoder();

export function openSse({ token, cursors, onFrame, onEnd }) {
  const ctrl = new AbortController();
  const auth = { Authorization: `Bearer ${token}` };
  let ended = false;
  let open = false;
  let stream = null;
  let maxBytes = 65536;
  let posting = false;
  let silence = null;
  const queue = [];

  const end = (code) => {
    if (ended) return;
    ended = true;
    open = false;
    clearTimeout(silence);
    ctrl.abort();
    onEnd(code);
  };
  const alive = () => {
    clearTimeout(silence);
    silence = setTimeout(() => end(1006), SILENCE_MS);
  };

  const query = new URLSearchParams();
  if (Object.keys(cursors).length) query.set('cursors', JSON.stringify(cursors));
  const headers = { ...auth, Accept: 'text/event-stream' };
  if (lastEventId) headers['Last-Event-ID'] = lastEventId;
  alive();
  fetch(`/api/v1/events?${query}`, { headers, signal: ctrl.signal, cache: 'no-store' })
    .then(async (res) => {
      if (res.status === 401) return end(4001);
      if (!res.ok || !res.body) return end(1006);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done || ended) break;
        alive();
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          event(block);
          if (ended) return undefined;
        }
      }
      return end(1006);
    })
    .catch(() => end(1006));

  function event(block) {
    let id = null;
    let data = '';
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const c = line.indexOf(':');
      const field = c < 0 ? line : line.slice(0, c);
      let value = c < 0 ? '' : line.slice(c + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id') id = value;
      else if (field === 'data') data += (data ? '\n' : '') + value;
    }
    if (!data) return;
    let f;
    try { f = JSON.parse(data); } catch { return; }
    if (id) lastEventId = id;
    if (f.type === 'close') { end(f.code); return; }
    if (f.type === 'ready') {
      stream = f.stream;
      if (f.limits && f.limits.max_frame_bytes) maxBytes = f.limits.max_frame_bytes;
      open = true;
    }
    onFrame(f);
    if (f.type === 'ready') pump();
  }

  // One POST at a time, holding what waits, within the server's body and count limits.
  function pump() {
    if (posting || !open || ended || !queue.length) return;
    const batch = [];
    let size = 2;
    while (queue.length && batch.length < MAX_FRAMES) {
      const bytes = encoder.encode(queue[0]).length + 1;
      if (batch.length && size + bytes > maxBytes) break;
      batch.push(queue.shift());
      size += bytes;
    }
    posting = true;
    fetch(`/api/v1/frames?stream=${stream}`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: `[${batch.join(',')}]`,
      signal: ctrl.signal,
      cache: 'no-store',
    })
      .then(async (res) => {
        if (ended) return;
        if (res.ok) {
          const replies = await res.json();
          posting = false;
          for (const r of replies) if (!ended) onFrame(r);
          pump();
          return;
        }
        if (res.status === 429) {
          // None was taken: the same frames again, a little later.
          queue.unshift(...batch);
          setTimeout(() => { posting = false; pump(); }, 1000);
          return;
        }
        if (res.status === 401) { end(4001); return; }
        if (res.status === 404 || res.status >= 500) { end(1006); return; }
        // The frames themselves were refused (400, 413): each that waits for an answer gets it.
        const err = await res.json().catch(() => ({}));
        posting = false;
        for (const text of batch) {
          const { id } = JSON.parse(text);
          if (id) onFrame({ type: 'error', reply_to: id, code: err.code || 'bad_request', message: err.message || 'refused' });
        }
        pump();
      })
      .catch(() => end(1006));
  }

  const isOpen = () => open && !ended;
  return {
    kind: 'sse',
    isOpen,
    send(frame) {
      if (!isOpen()) return false;
      queue.push(JSON.stringify(frame));
      pump();
      return true;
    },
    close() {
      ended = true;
      open = false;
      clearTimeout(silence);
      ctrl.abort();
    },
  };
}
