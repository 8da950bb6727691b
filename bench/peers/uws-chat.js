// The fastest thing a user would pick instead, for `confab bench --peer uws`:
// uWebSockets.js (C++ under Node) with its native pub/sub. Same contract as ws-chat.js: connect
// to ws://HOST:PORT/?room=ROOM&user=NAME, send {"type":"message","content":"..."}; every other
// member of the room gets it parsed, stamped and re-serialised. Nothing is stored.
// Prints "listening PORT" once ready. Usage: node uws-chat.js [PORT]
'use strict';
const uWS = require('uwebsockets');

const app = uWS.App().ws('/*', {
  maxPayloadLength: 64 * 1024,
  idleTimeout: 120,
  upgrade: (res, req, context) => {
    const query = new URLSearchParams(req.getQuery() || '');
    res.upgrade(
      { room: query.get('room') || '#general', user: query.get('user') || 'anonymous' },
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context,
    );
  },
  open: (ws) => ws.subscribe(ws.getUserData().room),
  message: (ws, message) => {
    let frame;
    try { frame = JSON.parse(Buffer.from(message).toString()); } catch { return; }
    if (frame.type !== 'message' || typeof frame.content !== 'string') return;
    const { room, user } = ws.getUserData();
    const out = JSON.stringify({
      type: 'message', sender: user, receiver: room,
      content: frame.content, timestamp: new Date().toISOString(),
    });
    ws.publish(room, out); // to every subscriber but the sender
  },
});

app.listen('127.0.0.1', Number(process.argv[2] || 0), (socket) => {
  if (!socket) { console.error('cannot listen'); process.exit(1); }
  console.log(`listening ${uWS.us_socket_local_port(socket)}`);
});
