// Failover through one origin (issue 10, item 4). Two `confab serve` nodes share a fresh
// PostgreSQL schema and a redis-server of this test's own; a tiny TCP load balancer (round
// robin, no stickiness) is the one origin Alice's browser knows. Bob is a plain WebSocket
// client straight to a node. The node Alice's WebSocket is on is killed with SIGKILL; while she
// reconnects Bob writes; her page must come back by itself through the balancer, on the other
// node, and show every message once, in order, with no gap.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, startRedis, createSchema, startBalancer, openSocketClient, launchBrowser,
  newUserPage, username, registerRest, loginUI, openConversation, messageLog, send,
  messageByText, waitOnline,
} from '../lib/harness.mjs';

// What the cluster tests give their nodes, so logins and messages from one address pass.
const CONFIG =
  '[rate]\nframes_per_sec = 1000.0\nframes_burst = 2000.0\nmessages_per_sec = 1000.0\nmessages_burst = 2000.0\n' +
  '[abuse]\nattempts_per_ip_per_min = 100000.0\nattempts_per_ip_burst = 100000.0\nfailed_logins_per_user = 100000\n' +
  'handshakes_per_ip_per_sec = 100000.0\nhandshakes_per_ip_burst = 100000.0\n';

// E2E_DEBUG=1 prints the steps.
const dbg = (m) => process.env.E2E_DEBUG && console.error(`[failover] ${m}`);
let redis;
let schema;
const nodes = [];
let lb;
let browser;
let alice;
let bobPage;
let bob;
const A = username('alice');
const B = username('bob');
let tokenB;

before(async () => {
  redis = await startRedis();
  schema = createSchema();
  const namespace = `e2e${process.pid}${Math.random().toString(36).slice(2, 8)}`;
  const cluster = ['--database', schema.url, '--bus', redis.url, '--bus-namespace', namespace];
  // One after the other: the first applies the migrations.
  for (let i = 0; i < 2; i++) {
    nodes.push(await startServer({ config: CONFIG, args: cluster, startWithin: 60000, env: { RUST_LOG: 'warn' } }));
  }
  dbg('nodes up');
  // The Host header the browser sends is the balancer's, the same as its Origin: the servers'
  // own-origin check lets the WebSocket through without --allowed-origin.
  lb = await startBalancer(nodes.map((n) => n.port));
  browser = await launchBrowser();
  await registerRest(nodes[0].url, A);
  tokenB = await registerRest(nodes[1].url, B);
  alice = await newUserPage(browser);
  const b = await newUserPage(browser);
  bobPage = b.page;
  // Every login frame Alice's page sends, to see the cursors it resumes with.
  await alice.context.addInitScript(() => {
    window.__logins = [];
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (data) {
      try {
        const f = JSON.parse(data);
        if (f.type === 'login') window.__logins.push(f.cursors || null);
      } catch { /* not JSON */ }
      return send.call(this, data);
    };
  });
  await loginUI(alice.page, lb.url, A);
  await openConversation(alice.page, '#general');
  dbg('alice in');
});
after(async () => {
  await browser?.close().catch(() => {});
  await lb?.stop().catch(() => {});
  for (const n of nodes) await n.stop().catch(() => {});
  await redis?.stop().catch(() => {});
  schema?.drop();
});

/** The one node Alice's WebSocket is on now, as the balancer saw it. */
function aliceNode() {
  const open = lb.wsBackends();
  dbg(`ws backends ${open}`);
  assert.equal(open.length, 1, `one WebSocket through the balancer (backends ${open})`);
  return open[0];
}

const articles = (page) =>
  messageLog(page)
    .locator('article')
    .evaluateAll((as) => as.map((a) => ({
      text: a.querySelector('[data-testid=content]')?.textContent ?? '',
      seq: a.dataset.seq ? Number(a.dataset.seq) : null,
      pending: a.dataset.pending === 'true',
    })));

/** Every message shown once, in seq order, the seqs consecutive (no gap), none pending. */
async function assertWholeLog(page) {
  const shown = await articles(page);
  const texts = shown.map((m) => m.text);
  assert.equal(new Set(texts).size, texts.length, `a message shown twice: ${texts}`);
  assert.ok(shown.every((m) => !m.pending && m.seq !== null), `all acked: ${JSON.stringify(shown)}`);
  const seqs = shown.map((m) => m.seq);
  for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, `no gap at ${seqs[i - 1]}: ${seqs}`);
  return texts;
}

const notOnline = (page) =>
  page.locator('[data-testid="connection"]:not([data-state="online"])').waitFor({ timeout: 15000 });

test('a SIGKILLed node: the page reconnects through the balancer to the other, catches up once and in order', async () => {
  const first = aliceNode();
  const other = 1 - first;
  // Bob talks to the node Alice is not on: every message crosses the bus.
  bob = await openSocketClient(bobPage, nodes[other].url, tokenB);
  dbg('bob socket open');
  await send(alice.page, 'hello bob');
  await bobPage.waitForFunction(
    () => window.__client.frames.some((f) => f.type === 'message' && f.content === 'hello bob'),
    null,
    { timeout: 15000 },
  );
  dbg('bob got hello');
  const hello = await bob.send('#general', 'hello alice');
  await messageByText(alice.page, 'hello alice').waitFor({ timeout: 15000 });

  await alice.page.evaluate(() => {
    const el = document.querySelector('[data-testid=connection]');
    window.__states = [];
    new MutationObserver(() => window.__states.push(el.dataset.state)).observe(el, { attributes: true, attributeFilter: ['data-state'] });
  });
  // The balancer has no backend for a moment (its health check has not caught up yet): Bob's
  // messages surely land while Alice is away.
  dbg('exchanged');
  lb.hold();
  await nodes[first].kill9();
  lb.markDead(first);
  dbg('killed');
  await notOnline(alice.page);
  const away = ['while away 1', 'while away 2', 'while away 3', 'while away 4', 'while away 5'];
  for (const t of away) await bob.send('#general', t);
  assert.notEqual(await alice.page.locator('[data-testid="connection"]').getAttribute('data-state'), 'online');
  dbg('bob sent away');
  lb.release();

  await waitOnline(alice.page, 30000);
  dbg('alice online again');
  assert.equal(aliceNode(), other, 'reconnected to the surviving node');
  const states = await alice.page.evaluate(() => window.__states);
  assert.ok(states.includes('reconnecting'), `shown as reconnecting (states: ${states})`);
  // It resumed with its own cursor: the newest message it held before the node died.
  const resumed = (await alice.page.evaluate(() => window.__logins)).at(-1);
  assert.deepEqual(resumed, { '#general': hello.seq }, 'the reconnection named the held cursor');
  await messageByText(alice.page, 'while away 5').waitFor({ timeout: 15000 });
  await alice.page.waitForTimeout(500);
  const texts = await assertWholeLog(alice.page);
  assert.deepEqual(texts, ['hello bob', 'hello alice', ...away]);

  // Live again both ways.
  await send(alice.page, 'back on the other node');
  await bobPage.waitForFunction(
    () => window.__client.frames.some((f) => f.type === 'message' && f.content === 'back on the other node'),
    null,
    { timeout: 15000 },
  );
  await bob.send('#general', 'welcome back');
  await messageByText(alice.page, 'welcome back').waitFor({ timeout: 15000 });
  await alice.page.waitForTimeout(300);
  assert.deepEqual(await assertWholeLog(alice.page), ['hello bob', 'hello alice', ...away, 'back on the other node', 'welcome back']);
  const atBob = (await bob.received()).filter((f) => f.receiver === '#general').map((f) => f.content);
  assert.deepEqual(atBob, ['hello bob', 'back on the other node'], 'Bob got each of Alice\'s messages once');
  assert.deepEqual(alice.page.problems, []);
});

test('a second failover with Bob writing all the time: no gap, no duplicate at the seam', async () => {
  // The killed node comes back and takes traffic again; Bob moves onto it.
  const dead = 1 - aliceNode();
  await nodes[dead].start();
  lb.markAlive(dead);
  const current = aliceNode();
  await bob.close();
  bob = await openSocketClient(bobPage, nodes[dead].url, tokenB);
  const before = await assertWholeLog(alice.page);
  // No hold this time: the reconnection races the live messages and the catch-up.
  await bob.stream('#general', 'stream', 30);
  await messageByText(alice.page, 'stream 3').waitFor({ timeout: 15000 });
  await nodes[current].kill9();
  lb.markDead(current);
  await notOnline(alice.page);
  await waitOnline(alice.page, 30000);
  assert.equal(aliceNode(), dead, 'reconnected to the restarted node');
  await alice.page.waitForTimeout(1000);
  const streamed = await bob.stopStream();
  dbg(`Bob streamed ${streamed.length} messages`);
  assert.ok(streamed.length >= 10, `Bob kept writing (${streamed.length} messages)`);
  await messageByText(alice.page, streamed.at(-1)).waitFor({ timeout: 15000 });
  await alice.page.waitForTimeout(500);
  const texts = await assertWholeLog(alice.page);
  assert.deepEqual(texts, [...before, ...streamed]);
  assert.deepEqual(alice.page.problems, []);
});
