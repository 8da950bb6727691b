// Regenerates docs/screenshots/: the main screens (login, conversation list, a conversation)
// at phone (375x812), tablet (768x1024) and desktop (1280x800), light and dark, against a real
// `confab serve` with a small seeded conversation. Run: node e2e/screenshots.mjs
// (CONFAB_BIN / CONFAB_WEB_DIR as for the tests).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  startServer, launchBrowser, newUserPage, registerRest, loginUI, openConversation, sendOverSocket,
  messageByText, repoRoot, rest, waitOnline,
} from './lib/harness.mjs';

const out = join(repoRoot, 'docs', 'screenshots');
mkdirSync(out, { recursive: true });
const sizes = {
  phone: { width: 375, height: 812 },
  tablet: { width: 768, height: 1024 },
  desktop: { width: 1280, height: 800 },
};

const server = await startServer();
const browser = await launchBrowser();
const written = [];
try {
  const alice = await registerRest(server.url, 'alice');
  const bob = await registerRest(server.url, 'bob');
  await registerRest(server.url, 'carol');
  await rest(server.url, alice, 'POST', '/api/v1/rooms', { room: 'design', topic: 'Pixels and words' });
  await rest(server.url, bob, 'POST', '/api/v1/rooms/design/join', {});
  const seeder = await newUserPage(browser);
  await seeder.page.goto(server.url + '/');
  await sendOverSocket(seeder.page, bob, '#general', [
    'Morning all! The release candidate is up on staging.',
    'Checked the login flow on my phone: works offline too.',
  ]);
  await sendOverSocket(seeder.page, alice, '#general', [
    'Great, thanks. Reading the changelog now: https://example.com/changelog',
    'Ship it after lunch?',
  ]);
  await sendOverSocket(seeder.page, bob, '#general', ['👍 sounds good']);
  await sendOverSocket(seeder.page, bob, 'alice', ['Got a minute for the budget?']);
  await sendOverSocket(seeder.page, bob, '#design', ['New icons are in the shared folder.']);
  await seeder.context.close();

  for (const [size, viewport] of Object.entries(sizes)) {
    for (const scheme of ['light', 'dark']) {
      const phone = size === 'phone';
      const { context, page } = await newUserPage(browser, {
        viewport, colorScheme: scheme, isMobile: phone, hasTouch: phone, deviceScaleFactor: 1,
      });
      const shot = async (name) => {
        const file = `${name}-${size}-${scheme}.png`;
        await page.waitForTimeout(250);
        await page.screenshot({ path: join(out, file) });
        written.push(file);
      };
      await page.goto(server.url + '/');
      await page.locator('body[data-screen="login"]').waitFor();
      await shot('login');
      await loginUI(page, server.url, 'alice');
      if (phone) await shot('list');
      await openConversation(page, '#general');
      await messageByText(page, 'sounds good').waitFor();
      await shot('conversation');
      await context.close();
    }
  }
} finally {
  await browser.close();
  await server.stop();
}
console.log(`screenshots: wrote ${written.length} files to docs/screenshots/:\n  ${written.join('\n  ')}`);
