// The web client over https, unchanged: a real `confab serve --tls-cert --tls-key` with a
// development certificate (`confab cert dev`), which Chromium is told to accept by pinning
// its public key. Sign-up, login, the wss:// connection, a message, the service worker, and
// HSTS on the page; no page errors or CSP violations.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newUserPage, username, loginUI, openConversation, send,
  messageByText, request, PASSWORD,
} from '../lib/harness.mjs';

let server;
let browser;
before(async () => {
  server = await startServer({ tls: true });
  browser = await launchBrowser({ trust: server.cert });
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the server answers https only, with HSTS', async () => {
  const res = await request(server.url + '/', { ca: server.cert });
  assert.equal(res.status, 200);
  assert.match(res.headers['strict-transport-security'], /^max-age=\d+/);
  assert.match(res.headers['content-security-policy'], /frame-ancestors 'none'/);
  await assert.rejects(fetch(server.url.replace('https:', 'http:') + '/healthz'), 'plain http is not served');
});

test('the web client signs up, connects over wss and chats over https', async () => {
  const { context, page } = await newUserPage(browser);
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  const name = username('tls');
  const response = await page.goto(server.url + '/');
  assert.ok(response.headers()['strict-transport-security'], 'HSTS on the page');
  // Registered through the page's own origin (Node's fetch cannot be given the root).
  const status = await page.evaluate(async ({ name, password }) => {
    const r = await fetch('/api/v1/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: name, password }),
    });
    return r.status;
  }, { name, password: PASSWORD });
  assert.equal(status, 201);
  await loginUI(page, server.url, name);
  assert.ok(sockets.some((u) => u.startsWith(`wss://127.0.0.1:${server.port}/`)), `a wss socket: ${sockets}`);
  await openConversation(page, '#general');
  await send(page, 'hello over https');
  const mine = messageByText(page, 'hello over https');
  await mine.waitFor();
  await page.waitForFunction(
    () => [...document.querySelectorAll('[role=log] article')].some((a) => a.dataset.id && a.dataset.pending !== 'true'),
  );
  // The service worker registers on the secure origin as it does on localhost.
  const workers = await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    return (await navigator.serviceWorker.getRegistrations()).length;
  });
  assert.ok(workers >= 1, 'a service worker');
  assert.deepEqual(page.problems, []);
  await context.close();
});
