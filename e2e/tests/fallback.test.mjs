// The fallback transport in the browser: Alice's network blocks WebSockets (her proxy refuses
// every Upgrade with 403, as some corporate and hotel proxies do); Carol's browser gets
// WebSockets that open and are closed at once (routed by the browser automation); Bob is
// direct. Without doing anything, Alice and Carol end up on Server-Sent Events + POST, say so
// discreetly in the connection indicator, and send and receive like Bob. A cut stream resumes
// without loss or double; when WebSockets work again, Alice's client moves back to them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, startUpgradeBlockingProxy, launchBrowser, newUserPage, username, registerRest,
  loginUI, openConversation, messageLog, send, messageByText, waitOnline,
} from '../lib/harness.mjs';

let server;
let proxy;
let browser;
let alice;
let bob;
const A = username('alice');
const B = username('bob');
const C = username('carol');

const indicator = (page) => page.locator('[data-testid="connection"]');
const contents = (page) =>
  messageLog(page).locator('[data-testid=content]').evaluateAll((cs) => cs.map((c) => c.textContent));

before(async () => {
  server = await startServer({ env: { RUST_LOG: 'info' } });
  proxy = await startUpgradeBlockingProxy(server.port);
  browser = await launchBrowser();
  await registerRest(server.url, A);
  await registerRest(server.url, B);
  await registerRest(server.url, C);
  alice = await newUserPage(browser);
  bob = await newUserPage(browser);
  await loginUI(bob.page, server.url, B);
  await openConversation(bob.page, '#general');
});
after(async () => {
  await browser?.close();
  await proxy?.stop().catch(() => {});
  await server?.stop();
});

test('with WebSockets refused by the proxy, the client falls back to SSE + POST by itself', async () => {
  await loginUI(alice.page, proxy.url, A);
  await indicator(alice.page).and(alice.page.locator('[data-transport="sse"]')).waitFor();
  assert.ok(proxy.refused >= 2, `the proxy refused the WebSocket (${proxy.refused} times)`);
  const text = (await indicator(alice.page).textContent()).trim();
  assert.match(text, /Online/);
  assert.match(text, /via HTTP/, 'the indicator says which transport');
  assert.match(await indicator(alice.page).getAttribute('title'), /WebSockets are blocked/);
  // Bob, direct, is on a WebSocket and the indicator says nothing more.
  assert.equal(await indicator(bob.page).getAttribute('data-transport'), 'ws');
  assert.doesNotMatch(await indicator(bob.page).textContent(), /via HTTP/);
  assert.equal(await indicator(bob.page).getAttribute('title'), null);

  await openConversation(alice.page, '#general');
  await send(alice.page, 'hello from behind the proxy');
  await messageByText(bob.page, 'hello from behind the proxy').waitFor();
  await alice.page.waitForFunction(() => !document.querySelector('[role=log] article[data-pending="true"]'));
  await send(bob.page, 'hello back over the websocket');
  await messageByText(alice.page, 'hello back over the websocket').waitFor();
  assert.deepEqual(alice.page.problems, []);
});

test('a cut event stream resumes: nothing lost, nothing twice', async () => {
  // Every open connection through the proxy is cut; Bob writes while Alice is away.
  proxy.dropAll();
  await send(bob.page, 'while the stream was down');
  await waitOnline(alice.page, 20000);
  await messageByText(alice.page, 'while the stream was down').waitFor({ timeout: 15000 });
  await send(alice.page, 'after the cut');
  await messageByText(bob.page, 'after the cut').waitFor({ timeout: 15000 });
  await alice.page.waitForTimeout(500);
  const seen = await contents(alice.page);
  for (const t of ['hello from behind the proxy', 'hello back over the websocket', 'while the stream was down', 'after the cut']) {
    assert.equal(seen.filter((s) => s === t).length, 1, `${t} once in ${JSON.stringify(seen)}`);
  }
  assert.equal(await indicator(alice.page).getAttribute('data-transport'), 'sse');
  // Resumed with Last-Event-ID, not merely caught up on a fresh stream.
  assert.match(server.log(), /stream resumed/);
  assert.deepEqual(alice.page.problems, []);
});

test('WebSockets that open and are closed at once also lead to the fallback', async () => {
  const carol = await newUserPage(browser);
  // The browser's WebSockets to /ws are answered by the automation, which closes them.
  await carol.page.routeWebSocket(/\/ws$/, (ws) => { ws.close(); });
  await loginUI(carol.page, server.url, C);
  await indicator(carol.page).and(carol.page.locator('[data-transport="sse"]')).waitFor();
  await openConversation(carol.page, '#general');
  await send(carol.page, 'carol on the fallback');
  await messageByText(bob.page, 'carol on the fallback').waitFor();
  await messageByText(alice.page, 'carol on the fallback').waitFor();
  await send(bob.page, 'bob to carol');
  await messageByText(carol.page, 'bob to carol').waitFor();
  assert.deepEqual(carol.page.problems, []);
  await carol.context.close();
});

test('when WebSockets work again, the client moves back to them', { timeout: 120000 }, async () => {
  proxy.allow();
  // The client tries WebSockets again 30 s after it fell back.
  await indicator(alice.page).and(alice.page.locator('[data-transport="ws"][data-state="online"]')).waitFor({ timeout: 60000 });
  assert.doesNotMatch(await indicator(alice.page).textContent(), /via HTTP/);
  await send(alice.page, 'back on a websocket');
  await messageByText(bob.page, 'back on a websocket').waitFor();
  await send(bob.page, 'welcome back');
  await messageByText(alice.page, 'welcome back').waitFor();
  assert.deepEqual(alice.page.problems, []);
});
