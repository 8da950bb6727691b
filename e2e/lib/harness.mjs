// Test harness: a real `confab serve` on a free port of 127.0.0.1 with a temporary data dir, a
// TCP proxy the tests can cut (a real disconnection: emulated offline does not close an open
// WebSocket), the system Chromium driven by playwright-core, and helpers that work through the
// UI contract of docs/web.md (roles, labels, data-* hooks).
import { spawn, execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import https from 'node:https';
import { mkdtempSync, rmSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import http from 'node:http';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..');
const require = createRequire(import.meta.url);

/** The confab binary: $CONFAB_BIN, else the debug build in $CARGO_TARGET_DIR (or ./target). */
export function confabBinary() {
  if (process.env.CONFAB_BIN) return process.env.CONFAB_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(homedir(), '.cache', 'confab-target');
  for (const dir of [target, join(repoRoot, 'target')]) {
    const bin = join(dir, 'debug', 'confab');
    if (existsSync(bin)) return bin;
  }
  throw new Error('no confab binary: build it with `cargo build -p confab` or set CONFAB_BIN');
}

/** The system Chromium (never a downloaded one). */
export function chromiumPath() {
  for (const p of [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (p && existsSync(p)) return p;
  }
  throw new Error('no chromium: apt-get install -y --no-install-recommends chromium');
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A request from Node that trusts `ca` (a PEM certificate) for https URLs; resolves to
 * { status, headers, body }. fetch() cannot be given a root, so TLS tests use this.
 */
export function request(url, { method = 'GET', headers = {}, body, ca } = {}) {
  if (!url.startsWith('https:')) {
    return fetch(url, { method, headers, body }).then(async (r) => ({
      status: r.status,
      headers: Object.fromEntries(r.headers),
      body: await r.text(),
    }));
  }
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca, timeout: 10000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

/** The base64 SHA-256 of a PEM certificate's public key (Chromium's SPKI pin format). */
export function spkiHash(pem) {
  const spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

async function waitUntilUp(url, proc, deadlineMs, ca) {
  const end = Date.now() + deadlineMs;
  let last;
  while (Date.now() < end) {
    if (proc.exitCode !== null) throw new Error(`confab exited with ${proc.exitCode}`);
    try {
      const res = await request(url + '/api/v1/openapi.json', { ca });
      if (res.status === 200) return;
      last = new Error(`status ${res.status}`);
    } catch (e) {
      last = e;
    }
    await sleep(50);
  }
  throw new Error(`confab did not come up at ${url}: ${last}`);
}

/**
 * Starts `confab serve`. By default it serves the embedded client (what CI checks); with
 * CONFAB_WEB_DIR set (or webDir given) it serves the files from disk. With `tls`, it first
 * makes a development certificate (`confab cert dev`) in the data dir and serves https.
 * Returns { url, port, cert (PEM, with tls), stop(), restart() }; restart() keeps the port
 * and the data dir.
 */
export async function startServer({ webDir = process.env.CONFAB_WEB_DIR, env = {}, config, tls = false, args: extraArgs = [], startWithin = 20000 } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'confab-e2e-'));
  let cert = null;
  if (tls) {
    execFileSync(confabBinary(), ['cert', 'dev', '--data-dir', dataDir], { stdio: 'ignore' });
    cert = readFileSync(join(dataDir, 'dev-cert.pem'), 'utf8');
  }
  const configFile = join(dataDir, 'e2e.toml');
  // Rate limits high enough for seeding history quickly; everything else the defaults.
  writeFileSync(
    configFile,
    config ??
      '[rate]\nframes_per_sec = 1000.0\nframes_burst = 2000.0\nmessages_per_sec = 1000.0\nmessages_burst = 2000.0\n' +
        '[abuse]\nattempts_per_ip_per_min = 10000.0\nattempts_per_ip_burst = 10000.0\nhandshakes_per_ip_per_sec = 1000.0\nhandshakes_per_ip_burst = 1000.0\n',
  );
  const port = await freePort();
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  let proc;
  let log = '';
  const launch = async () => {
    const args = ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--config', configFile];
    if (webDir) args.push('--web-dir', webDir);
    args.push(...extraArgs);
    if (tls) args.push('--tls-cert', join(dataDir, 'dev-cert.pem'), '--tls-key', join(dataDir, 'dev-key.pem'));
    proc = spawn(confabBinary(), args, {
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout.on('data', (d) => (log += d));
    proc.stderr.on('data', (d) => (log += d));
    try {
      await waitUntilUp(url, proc, startWithin, cert ?? undefined);
    } catch (e) {
      proc.kill('SIGKILL');
      throw new Error(`${e.message}\n${log}`);
    }
  };
  const kill = async () => {
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const done = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(t);
  };
  await launch();
  return {
    url,
    port,
    dataDir,
    cert,
    log: () => log,
    async restart() {
      await kill();
      await launch();
    },
    /** SIGKILL, no goodbye to anyone: the process is gone when this resolves. */
    async kill9() {
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await done;
    },
    /** Starts it again on the same port and data dir (after kill9). */
    async start() {
      await launch();
    },
    async stop() {
      await kill();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A redis-server of the test's own on a spare loopback port, nothing persisted. Returns
 * { url, port, stop() }.
 */
export async function startRedis() {
  const port = await freePort();
  const proc = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const failed = new Promise((_, reject) => proc.once('error', reject));
  const up = (async () => {
    const end = Date.now() + 10000;
    while (Date.now() < end) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
      const ok = await new Promise((r) => {
        const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); });
        s.on('error', () => r(false));
      });
      if (ok) return;
      await sleep(50);
    }
    proc.kill('SIGKILL');
    throw new Error('redis-server did not listen');
  })();
  await Promise.race([up, failed]);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await done;
    },
  };
}

/**
 * A fresh schema on the machine's PostgreSQL ($CONFAB_TEST_DATABASE, default
 * postgres://postgres@127.0.0.1:5432/test), made with psql. Returns { name, url (the base URL
 * with the schema as search_path, what `--database` is given), drop() }.
 */
export function createSchema(prefix = 'confab_e2e') {
  const base = process.env.CONFAB_TEST_DATABASE || 'postgres://postgres@127.0.0.1:5432/test';
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const psql = (sql) =>
    execFileSync('psql', [base, '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 15000 });
  psql(`CREATE SCHEMA ${name}`);
  const sep = base.includes('?') ? '&' : '?';
  return {
    name,
    url: `${base}${sep}options=-csearch_path%3D${name}`,
    drop() {
      try { psql(`DROP SCHEMA ${name} CASCADE`); } catch { /* best effort */ }
    },
  };
}

/**
 * A tiny TCP load balancer: one port, each new connection piped to the next live backend
 * (round robin, no stickiness), what a browser sees as one origin. markDead(i) skips backend i
 * from then on, markAlive(i) takes it back; hold() refuses every new connection (closes it at
 * once) until release(). wsBackends() says which backend each open WebSocket (a connection
 * that began with `GET /ws`) went to.
 */
export async function startBalancer(backendPorts) {
  const port = await freePort();
  const backends = backendPorts.map((p) => ({ port: p, alive: true }));
  const conns = new Set();
  let next = 0;
  let holding = false;
  const server = net.createServer((client) => {
    const pick = () => {
      for (let k = 0; k < backends.length; k++) {
        const i = (next + k) % backends.length;
        if (backends[i].alive) { next = i + 1; return i; }
      }
      return -1;
    };
    const i = holding ? -1 : pick();
    if (i < 0) { client.destroy(); return; }
    const upstream = net.connect(backends[i].port, '127.0.0.1');
    const conn = { backend: i, head: '', client, upstream };
    conns.add(conn);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      conns.delete(conn);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.once('data', (d) => { conn.head = d.toString('latin1', 0, Math.min(d.length, 200)).split('\r\n')[0]; });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    markDead(i) { backends[i].alive = false; },
    markAlive(i) { backends[i].alive = true; },
    hold() { holding = true; },
    release() { holding = false; },
    wsBackends() {
      return [...conns].filter((c) => /^GET \/ws[ ?]/.test(c.head)).map((c) => c.backend);
    },
    async stop() {
      for (const c of conns) { c.client.destroy(); c.upstream.destroy(); }
      conns.clear();
      await new Promise((r) => server.close(() => r()));
    },
  };
}

/**
 * A plain WebSocket client (not the web client) for `token`'s user, opened inside `page` on
 * `baseUrl`'s origin (its login screen), so it talks straight to that server and passes its Origin check. Resolves
 * once it is `ready`. send(receiver, text) resolves with the ack; received() lists the message
 * frames that came in (live or by catch-up); stream(receiver, prefix, everyMs) sends
 * `${prefix} 1`, `${prefix} 2`, ... one after the other (each waiting for its ack) until
 * stopStream() resolves with the acked texts.
 */
export async function openSocketClient(page, baseUrl, token) {
  // The web client's login screen, for its origin only (its CSP lets it connect to itself; a
  // page of another kind, or one made up by the test, is refused the socket).
  if (!page.url().startsWith(baseUrl)) await page.goto(`${baseUrl}/`);
  await page.evaluate(async (token) => {
    const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/ws`);
    const c = { ws, frames: [], waiters: new Map(), run: Math.random().toString(36).slice(2), n: 0 };
    window.__client = c;
    ws.onmessage = (e) => {
      const f = JSON.parse(e.data);
      c.frames.push(f);
      const w = f.reply_to && c.waiters.get(f.reply_to);
      if (w) { c.waiters.delete(f.reply_to); w(f); }
    };
    c.request = (frame, ms = 10000) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => { c.waiters.delete(frame.id); reject(new Error(`no answer to ${frame.type} ${frame.id}`)); }, ms);
        c.waiters.set(frame.id, (f) => { clearTimeout(t); resolve(f); });
        ws.send(JSON.stringify(frame));
      });
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('socket did not open')), 10000);
      ws.onopen = () => { clearTimeout(t); resolve(); };
      ws.onclose = () => { clearTimeout(t); reject(new Error('socket closed before it opened')); };
    });
    ws.onclose = () => { c.closed = true; };
    const ready = await c.request({ type: 'login', id: 'login', token });
    if (ready.type !== 'ready') throw new Error(`login: ${JSON.stringify(ready)}`);
    c.send = async (receiver, content) => {
      const a = await c.request({ type: 'message', id: `s-${c.run}-${++c.n}`, receiver, content });
      if (a.type !== 'ack') throw new Error(`send ${content}: ${JSON.stringify(a)}`);
      return { id: a.id, seq: a.seq };
    };
  }, token);
  return {
    send: (receiver, text) => page.evaluate(([r, t]) => window.__client.send(r, t), [receiver, text]),
    received: () =>
      page.evaluate(() => window.__client.frames.filter((f) => f.type === 'message' && !f.reply_to)),
    stream: (receiver, prefix, everyMs = 40) =>
      page.evaluate(([r, p, ms]) => {
        const c = window.__client;
        c.streamStop = false;
        c.streamed = [];
        c.streamDone = (async () => {
          for (let i = 1; !c.streamStop; i++) {
            await c.send(r, `${p} ${i}`);
            c.streamed.push(`${p} ${i}`);
            await new Promise((res) => setTimeout(res, ms));
          }
          return c.streamed;
        })();
        c.streamDone.catch(() => {});
      }, [receiver, prefix, everyMs]),
    stopStream: () =>
      page.evaluate(() => {
        const c = window.__client;
        c.streamStop = true;
        return c.streamDone;
      }),
    close: () => page.evaluate(() => window.__client.ws.close()).catch(() => {}),
  };
}

/**
 * A TCP proxy on its own port in front of the server. cut() destroys every open connection and
 * refuses new ones (the browser sees a real close, then connection refused); restore() listens
 * again on the same port.
 */
export async function startProxy(targetPort) {
  const port = await freePort();
  const sockets = new Set();
  let server;
  const listen = () =>
    new Promise((resolve, reject) => {
      server = net.createServer((client) => {
        const upstream = net.connect(targetPort, '127.0.0.1');
        sockets.add(client);
        sockets.add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
  await listen();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async cut() {
      await new Promise((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
        sockets.clear();
      });
    },
    async restore() {
      await listen();
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(() => r()));
    },
  };
}

/**
 * An HTTP proxy in front of the server that passes plain requests through (streaming, so
 * Server-Sent Events arrive as they are sent) and, like the proxies of some corporate and hotel
 * networks, refuses every WebSocket upgrade with 403 while `blocking`. allow() lets upgrades
 * through from then on; dropAll() cuts every open connection but keeps listening. `refused`
 * counts the upgrades refused.
 */
export async function startUpgradeBlockingProxy(targetPort) {
  const port = await freePort();
  const sockets = new Set();
  const proxy = { url: `http://127.0.0.1:${port}`, port, refused: 0, blocking: true };
  const server = http.createServer((req, res) => {
    const upstream = http.request(
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        res.flushHeaders();
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req, socket, head) => {
    if (proxy.blocking) {
      proxy.refused += 1;
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) upstream.write(head);
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
    const drop = () => { socket.destroy(); upstream.destroy(); };
    socket.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  proxy.allow = () => { proxy.blocking = false; };
  proxy.dropAll = () => { for (const s of sockets) s.destroy(); };
  proxy.stop = async () => {
    proxy.dropAll();
    await new Promise((r) => server.close(() => r()));
  };
  return proxy;
}

/**
 * Headless system Chromium, flags as docs/web.md says. `trust` is a PEM certificate the
 * browser accepts as valid (pinned by its public key), for a server with a development
 * certificate.
 */
export async function launchBrowser({ trust } = {}) {
  const pins = trust ? [`--ignore-certificate-errors-spki-list=${spkiHash(trust)}`] : [];
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-dev-shm-usage',
      ...pins,
    ],
  });
}

/**
 * A fresh browser context (its own storage: one "user") and a page in it. Collects page errors
 * and Content-Security-Policy violations in page.problems so tests can assert there are none.
 */
export async function newUserPage(browser, { viewport = { width: 1280, height: 800 }, ...opts } = {}) {
  const context = await browser.newContext({ viewport, locale: 'en-US', ...opts });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    const text = m.text();
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(text)) {
      page.problems.push(`csp: ${text}`);
    }
  });
  page.setDefaultTimeout(10000);
  return { context, page };
}

let counter = 0;
/** A unique, valid username (letters, digits). */
export function username(prefix = 'u') {
  counter += 1;
  return `${prefix}${process.pid % 10000}${counter}${Math.floor(Math.random() * 1000)}`;
}
export const PASSWORD = 'correct horse battery';

/** Registers over REST (faster than the form when the form is not what is under test). */
export async function registerRest(baseUrl, name, password = PASSWORD) {
  const res = await fetch(`${baseUrl}/api/v1/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: name, password }),
  });
  if (res.status !== 201) throw new Error(`register ${name}: ${res.status} ${await res.text()}`);
  return (await res.json()).token;
}

export async function rest(baseUrl, token, method, path, body) {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Logs in through the login screen and waits for the app screen and an online connection. */
export async function loginUI(page, baseUrl, name, password = PASSWORD) {
  await page.goto(baseUrl + '/');
  await page.locator('body[data-screen="login"]').waitFor();
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await waitOnline(page);
}

export async function waitOnline(page, timeout = 15000) {
  await page.locator('body[data-screen="app"]').waitFor({ timeout });
  await page.locator('[data-testid="connection"][data-state="online"]').waitFor({ timeout });
}

// These locators do not depend on the UI language (the i18n test switches it); the English
// accessible names of the contract are checked in the chat test.
export function sidebar(page) {
  return page.locator('nav').filter({ has: page.locator('[data-receiver]') });
}

/** Opens a conversation from the sidebar by its receiver ("#general" or "bob"). */
export async function openConversation(page, receiver) {
  await sidebar(page).locator(`[data-receiver="${receiver}"]`).click();
  // On a phone the list is hidden once the conversation shows: attached, not visible.
  await page.locator(`[data-receiver="${receiver}"][aria-current="page"]`).waitFor({ state: 'attached' });
  await messageLog(page).waitFor();
}

export function messageLog(page) {
  return page.locator('[role=log]').filter({ visible: true }).first();
}

export function composer(page) {
  return page.locator('textarea').filter({ visible: true }).first();
}

/** Types a message and presses Enter. */
export async function send(page, text) {
  const box = composer(page);
  await box.fill(text);
  await box.press('Enter');
}

/** The article of the (last) message whose content is exactly `text`. */
export function messageByText(page, text) {
  return messageLog(page)
    .locator('article')
    .filter({ has: page.locator('[data-testid="content"]', { hasText: text }) })
    .last();
}

const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core in the page (evaluated over the DevTools protocol, so the page's strict CSP
 * stays in force) and returns its violations, WCAG 2.x A/AA plus best practices.
 */
export async function axeViolations(page) {
  const hasAxe = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!hasAxe) await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
      resultTypes: ['violations'],
    });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.failureSummary}`),
    }));
  });
  return result;
}

export function formatViolations(vs) {
  return vs.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.join('\n    ')}`).join('\n');
}

/** A small valid PNG (solid colour, w x h) made here, so no fixture file is needed. */
export function makePng(w = 64, h = 48, rgb = [40, 120, 200]) {
  const zlib = require('node:zlib');
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: w }, () => rgb).flat())]);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * Sends messages as `token`'s user over a WebSocket opened inside `page` (same origin, so the
 * server's Origin check passes), one after the other, each waiting for its ack. For seeding
 * history and for a second party that is not under test.
 */
export async function sendOverSocket(page, token, receiver, texts) {
  return page.evaluate(
    async ({ token, receiver, texts }) => {
      const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/ws?token=${token}`);
      const frames = [];
      let waiter = null;
      ws.onmessage = (e) => {
        const f = JSON.parse(e.data);
        frames.push(f);
        if (waiter) waiter();
      };
      const next = (pred) =>
        new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('socket: no answer')), 10000);
          const check = () => {
            const i = frames.findIndex(pred);
            if (i >= 0) {
              clearTimeout(t);
              waiter = null;
              resolve(frames.splice(i, 1)[0]);
            } else waiter = check;
          };
          check();
        });
      await next((f) => f.type === 'ready');
      const acks = [];
      // Ids are unique per call: the server treats a repeated id as a resend (a duplicate).
      const run = Math.random().toString(36).slice(2);
      for (let i = 0; i < texts.length; i++) {
        ws.send(JSON.stringify({ type: 'message', id: `seed-${run}-${i}`, receiver, content: texts[i] }));
        const a = await next((f) => f.reply_to === `seed-${run}-${i}`);
        if (a.type !== 'ack') throw new Error(`send ${i}: ${JSON.stringify(a)}`);
        acks.push({ id: a.id, seq: a.seq });
      }
      ws.close();
      return acks;
    },
    { token, receiver, texts },
  );
}
