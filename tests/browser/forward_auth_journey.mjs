// Forward-auth in a real headless Chromium (Debian's, driven by playwright-core): the
// browser talks only to an edge proxy (nginx or Caddy) that asks sso-gateway at
// /_sso/auth. Every request the browser sends carries forged identity headers. It
// opens a public page as a guest, asks for /_sso/auth itself, signs in on a
// login-only page through the IdP's pages, reads what the origin received, signs out
// and opens the login-only page again. Prints one JSON line with what it saw; the
// Rust test (tests/forward_auth.rs) judges it.
//   node forward_auth_journey.mjs <site-url> <login> <screenshot.png>
// (the site URL through the proxy, without a path, e.g. http://shop.localhost:PORT)
import { createRequire } from 'node:module';

// playwright-core is installed with the demo's pinned packages.
const require = createRequire(new URL('../../deploy/demo/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [site, login, screenshot] = process.argv.slice(2);
const WAIT = 20000; // every wait ends by itself
const result = { step: 'launch' };

// The whole journey must end by itself even if a wait somehow does not.
const deadline = setTimeout(() => {
  result.error = `journey did not finish in 100 s (step ${result.step})`;
  console.log(JSON.stringify(result));
  process.exit(1);
}, 100000);

// What an attacker's browser would send to become someone else at the origin.
const FORGED = {
  'X-Customer-Id': 'forged-id',
  'X-Customer-Name': 'Forged Name',
  'X-Customer-Email': 'forged@evil.example',
  'X-Customer-Groups': 'forged-admins',
  'X-Customer-Token': 'forged-token',
  'X-Customer-Auth-Time': 'forged-time',
  'X-Customer-Acr': 'forged-acr',
  'X-Customer-Login-Method': 'forged-method',
  'X_Customer_Id': 'forged-underscore-id',
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  timeout: WAIT,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const context = await browser.newContext({ extraHTTPHeaders: FORGED });
  context.setDefaultTimeout(WAIT);
  context.setDefaultNavigationTimeout(WAIT);
  // There is no internet here: refuse anything that is not on loopback at once.
  await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/]|([a-z0-9-]+\.)*localhost[:/])/, (route) => route.abort());
  const page = await context.newPage();
  const greeting = async () => (await page.locator('#greeting').textContent({ timeout: WAIT })).trim();
  // What the origin received for the page (the demo storefront echoes it in #echo).
  const echo = async () => JSON.parse(await page.locator('#echo').textContent({ timeout: WAIT }));
  const submit = async (selector) => {
    const before = page.url();
    await Promise.all([
      page.waitForURL((u) => u.href !== before, { timeout: WAIT, waitUntil: 'load' }),
      page.click(selector),
    ]);
  };

  // 1. A public page as a guest: the forged headers reach the origin as nothing.
  result.step = '1: public page';
  await page.goto(`${site}/`);
  result.guest = { greeting: await greeting(), echo: await echo() };

  // 2. The auth endpoint is the proxy's, not the browser's: the page's own script
  // (an XSS, say) asking for it reads no identity headers.
  result.step = '2: /_sso/auth from the browser';
  result.authEndpoint = await page.evaluate(async () => {
    const r = await fetch('/_sso/auth');
    return { status: r.status, headers: Object.fromEntries(r.headers.entries()) };
  });

  // 3. A login-only page: the proxy asks, the gateway sends the browser to sign in.
  result.step = '3: sign in';
  await page.goto(`${site}/account/orders?page=2`);
  result.idpPage = page.url();
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'any-password');
  await submit('button[type=submit]');
  await page.waitForSelector('input[name=prompt][value=consent]', { state: 'attached' });
  await submit('button[type=submit]');
  await page.waitForURL((u) => u.origin === site && u.pathname === '/account/orders', { timeout: WAIT });
  result.signedIn = { finalUrl: page.url(), greeting: await greeting(), echo: await echo() };
  if (screenshot) await page.screenshot({ path: screenshot, timeout: WAIT });
  result.cookies = (await context.cookies()).map((c) => ({ name: c.name, domain: c.domain, httpOnly: c.httpOnly }));

  // 4. Sign out through the proxy (the IdP asks to confirm its own sign-out), then
  // the login-only page again: back to the IdP's sign-in.
  result.step = '4: sign out';
  await page.goto(`${site}/_sso/logout`);
  if (new URL(page.url()).origin !== site) {
    await submit('button[autofocus]');
  }
  await page.waitForURL((u) => u.origin === site, { timeout: WAIT });
  result.afterLogout = { greeting: await greeting() };
  await page.goto(`${site}/account/orders`);
  result.afterLogout.loginOnlyPage = page.url();
  result.step = 'done';
} catch (e) {
  result.error = String(e);
} finally {
  await browser.close().catch(() => {});
  clearTimeout(deadline);
}
console.log(JSON.stringify(result));
