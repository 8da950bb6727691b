// The WebSocket link: /ws with an in-band login carrying the cursors (docs/protocol.md
// section 3). A link is { kind, isOpen(), send(frame) -> bool, close() }; it reports every
// frame with onFrame and its end, once, with onEnd(code).
export function openWs({ token, cursors, onFrame, onEnd }) {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let ended = false;
  let sock;
  try {
    sock = new WebSocket(`${proto}//${location.host}/ws`);
  } catch {
    setTimeout(() => onEnd(1006), 0);
    return { kind: 'ws', isOpen: () => false, send: () => false, close() { ended = true; } };
  }
  sock.onopen = () => sock.send(JSON.stringify({ type: 'login', id: 'login', token, cursors }));
  sock.onmessage = (e) => {
    if (ended) return;
    let f;
    try { f = JSON.parse(e.data); } catch { return; }
    onFrame(f);
  };
  sock.onclose = (e) => {
    if (ended) return;
    ended = true;
    onEnd(e.code);
  };
  const isOpen = () => !ended && sock.readyState === WebSocket.OPEN;
  return {
    kind: 'ws',
    isOpen,
    send(frame) {
      if (!isOpen()) return false;
      sock.send(JSON.stringify(frame));
      return true;
    },
    close() {
      ended = true;
      try { sock.close(1000); } catch { /* already closing */ }
    },
  };
}

// Whether a WebSocket can be opened at all (the fallback's retry): opens one and closes it.
export function wsReachable(timeout = 5000) {
  return new Promise((resolve) => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let sock;
    try { sock = new WebSocket(`${proto}//${location.host}/ws`); } catch { resolve(false); return; }
    const done = (ok) => {
      clearTimeout(timer);
      sock.onopen = sock.onclose = sock.onerror = null;
      try { sock.close(1000); } catch { /* closing anyway */ }
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeout);
    sock.onopen = () => done(true);
    sock.onclose = () => done(false);
  });
}
