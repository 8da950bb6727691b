// The client is served by confab itself: the page, its security headers, a clean load in
// Chromium under the strict CSP (no errors, no violations), and bare 404s elsewhere.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newUserPage } from '../lib/harness.mjs';

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the page is served with a strict CSP and the usual security headers', async () => {
  const res = await fetch(server.url + '/');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  const csp = res.headers.get('content-security-policy');
  assert.ok(csp, 'a Content-Security-Policy header');
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.ok(res.headers.get('referrer-policy'), 'a Referrer-Policy header');
  assert.ok(res.headers.get('etag'), 'an ETag');
  const again = await fetch(server.url + '/', { headers: { 'if-none-match': res.headers.get('etag') } });
  assert.equal(again.status, 304);
  const invite = await fetch(server.url + '/invite/abc123');
  assert.equal(invite.status, 200, 'invite links open the app');
  const missing = await fetch(server.url + '/no/such/thing');
  assert.equal(missing.status, 404);
});

test('the client loads in Chromium without errors or CSP violations', async () => {
  const { context, page } = await newUserPage(browser);
  const failed = [];
  page.on('response', (r) => {
    if (r.status() >= 400 && new URL(r.url()).origin === server.url) failed.push(`${r.status()} ${r.url()}`);
  });
  await page.goto(server.url + '/', { waitUntil: 'load' });
  await page.waitForTimeout(300); // let module scripts run and report
  assert.deepEqual(failed, [], 'every asset the page asks for is served');
  assert.deepEqual(page.problems, []);
  assert.equal(await page.title().then((t) => /confab/.test(t)), true, 'title mentions confab');
  await context.close();
});
