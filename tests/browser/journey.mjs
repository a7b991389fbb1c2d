// The shopper's journey in a real headless Chromium (Debian's, driven by
// playwright-core): open a login-only page, sign in on the IdP's page, and see the
// demo storefront greet the customer. Prints one JSON line with what it saw.
//   node journey.mjs <start-url> <login> <screenshot.png>
import { createRequire } from 'node:module';

// playwright-core is installed with the demo's pinned packages.
const require = createRequire(new URL('../../deploy/demo/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [startUrl, login, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const result = {};
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  await page.goto(startUrl);
  result.idpUrl = page.url();
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'any-password');
  await page.click('button[type=submit]');
  await page.waitForSelector('button[type=submit]');
  await page.click('button[type=submit]'); // consent
  await page.waitForSelector('#greeting');
  result.finalUrl = page.url();
  result.greeting = await page.textContent('#greeting');
  result.cookies = (await context.cookies()).map((c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite }));
  if (screenshot) await page.screenshot({ path: screenshot });
  await page.goto(new URL('/_sso/logout', startUrl).href);
  await page.waitForLoadState('load');
  // oidc-provider asks to confirm the sign-out.
  const confirm = await page.$('button[autofocus], button[type=submit]');
  if (confirm) { await confirm.click(); await page.waitForLoadState('load'); }
  await page.goto(new URL('/', startUrl).href);
  result.afterLogout = await page.textContent('#greeting');
} catch (e) {
  result.error = String(e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
