// What users upload never runs in confab's origin: an SVG and an HTML file with scripts are
// uploaded and their URLs opened in Chromium; no script of theirs runs. A control page
// shows that the same SVG does run its script when served as an SVG document, so the
// detector (a console line) would see it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newUserPage, username, registerRest } from '../lib/harness.mjs';

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

const SVG = `<svg xmlns="http://www.w3.org/2000/svg" onload="console.log('upload-script-ran:onload')">
<script>console.log('upload-script-ran:script')</script><circle cx="10" cy="10" r="5"/></svg>`;
const HTML = `<!doctype html><html><body onload="console.log('upload-script-ran:onload')">
<script>console.log('upload-script-ran:html')</script><p>hi</p></body></html>`;

async function uploadRaw(token, name, body, type) {
  const res = await fetch(`${server.url}/api/v1/attachments?name=${name}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': type },
    body,
  });
  assert.equal(res.status, 201);
  return res.json();
}

test('an uploaded SVG or HTML file with a script never runs it', async () => {
  const token = await registerRest(server.url, username('up'));
  const { context, page } = await newUserPage(browser);
  const ran = [];
  context.on('console', (m) => {
    if (m.text().startsWith('upload-script-ran')) ran.push(m.text());
  });

  // Control: served as an SVG document from elsewhere, the script runs.
  await page.route('http://control.test/**', (route) =>
    route.fulfill({ status: 200, contentType: 'image/svg+xml', body: SVG }));
  await page.goto('http://control.test/evil.svg');
  for (let i = 0; i < 50 && ran.length === 0; i++) await page.waitForTimeout(100);
  assert.ok(ran.length > 0, 'the detector sees a script that runs');
  ran.length = 0;

  for (const [name, body, type] of [['evil.svg', SVG, 'image/svg+xml'], ['evil.html', HTML, 'text/html']]) {
    const info = await uploadRaw(token, name, body, type);
    const url = `${server.url}${info.url}?token=${token}`;
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; sandbox");
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.match(res.headers.get('content-disposition'), /^attachment;/);
    assert.doesNotMatch(res.headers.get('content-type'), /svg|html|xml/);

    // Opened in a tab: a download, never a document.
    const download = page.waitForEvent('download', { timeout: 10000 });
    await page.goto(url).catch(() => {});
    const file = await download;
    assert.equal(file.suggestedFilename(), name);
    await file.cancel();
    // Pointed at by an <img> on a page of confab's origin: not a picture, and never a document.
    await page.goto(server.url + '/');
    await page.evaluate((src) => {
      const img = document.createElement('img');
      img.src = src;
      document.body.append(img);
    }, url);
    await page.waitForTimeout(700);
  }
  assert.deepEqual(ran, [], 'no uploaded script ran');
  await context.close();
});
