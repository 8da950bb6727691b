// The chat most tutorials build, for `confab bench --peer ws`: Node's `ws` package. A client
// connects to ws://HOST:PORT/?room=ROOM&user=NAME; each message it sends,
// {"type":"message","content":"..."}, is parsed, stamped and sent to every other member of
// the room as {"type":"message","sender","receiver","content","timestamp"}. Nothing is stored.
// Prints "listening PORT" once ready. Usage: node ws-chat.js [PORT]
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');

const rooms = new Map();
const server = http.createServer();
const wss = new WebSocketServer({ server });

wss.on('connection', (socket, request) => {
  const query = new URL(request.url, 'http://peer').searchParams;
  const room = query.get('room') || '#general';
  const user = query.get('user') || 'anonymous';
  if (!rooms.has(room)) rooms.set(room, new Set());
  const members = rooms.get(room);
  members.add(socket);
  socket.on('message', (data) => {
    let frame;
    try { frame = JSON.parse(data); } catch { return; }
    if (frame.type !== 'message' || typeof frame.content !== 'string') return;
    const out = JSON.stringify({
      type: 'message', sender: user, receiver: room,
      content: frame.content, timestamp: new Date().toISOString(),
    });
    for (const member of members) if (member !== socket) member.send(out);
  });
  socket.on('close', () => members.delete(socket));
});

server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
