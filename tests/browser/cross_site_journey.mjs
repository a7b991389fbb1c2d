// Cross-site sign-on in a real headless Chromium (Debian's, driven by playwright-core),
// in ONE browser context (one cookie jar, like a person's browser): sign in on shop-a
// through the IdP's pages, open shop-b and be greeted with no IdP page in between,
// sign out on shop-b (global scope) and find shop-a signed out too. Prints one JSON
// line with what it saw; the Rust test (tests/cross_site_browser.rs) judges it.
//   node cross_site_journey.mjs <shop-a-url> <shop-b-url> <login> <screenshot.png>
// (site URLs without a path, e.g. http://shop-a.localhost:PORT)
import { createRequire } from 'node:module';

// playwright-core is installed with the demo's pinned packages.
const require = createRequire(new URL('../../deploy/demo/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [shopA, shopB, login, screenshot] = process.argv.slice(2);
const WAIT = 20000; // every wait ends by itself
const result = { step: 'launch' };

// The whole journey must end by itself even if a wait somehow does not.
const deadline = setTimeout(() => {
  result.error = `journey did not finish in 100 s (step ${result.step})`;
  console.log(JSON.stringify(result));
  process.exit(1);
}, 100000);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  timeout: WAIT,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const context = await browser.newContext();
  context.setDefaultTimeout(WAIT);
  context.setDefaultNavigationTimeout(WAIT);
  // There is no internet here: the IdP's pages @import a web font; refuse anything
  // that is not on loopback at once instead of waiting on it.
  result.blocked = [];
  await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/]|([a-z0-9-]+\.)*localhost[:/])/, (route) => {
    result.blocked.push(route.request().url());
    return route.abort();
  });
  // Every top-level navigation request (each redirect hop is a request of its own),
  // and every URL a tab's main frame committed (what the address bar showed).
  const requested = [];
  result.requested = requested;
  result.committed = [];
  context.on('request', (r) => {
    try {
      if (r.isNavigationRequest() && r.frame() === r.frame().page().mainFrame()) requested.push(r.url());
    } catch {
      // not a page's request (a service worker's): not a navigation either
    }
  });
  const watch = (page) => page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) result.committed.push(f.url());
  });
  const since = (mark) => requested.slice(mark);
  const greeting = async (page) => (await page.locator('#greeting').textContent({ timeout: WAIT })).trim();
  // What the origin received for the page (the demo storefront echoes it in #echo),
  // and the page's own referrer.
  const echoed = async (page) => {
    const echo = JSON.parse(await page.locator('#echo').textContent({ timeout: WAIT }));
    return { url: echo.url, referer: echo.headers.referer ?? null, documentReferrer: await page.evaluate(() => document.referrer) };
  };
  // `/_sso/session` as the page's own script would ask for it (same origin, cookies).
  const session = (page) => page.evaluate(async () => {
    const r = await fetch('/_sso/session', { headers: { accept: 'application/json' } });
    return { status: r.status, body: await r.json() };
  });
  // Clicks `selector` and waits until the tab has left `page.url()` and loaded.
  const submit = async (page, selector) => {
    const before = page.url();
    await Promise.all([
      page.waitForURL((u) => u.href !== before, { timeout: WAIT, waitUntil: 'load' }),
      page.click(selector),
    ]);
  };

  // 1. shop-a's login-only page: the IdP's sign-in and consent pages, then shop-a.
  result.step = '1: sign in on shop-a';
  const tabA = await context.newPage();
  watch(tabA);
  let mark = requested.length;
  await tabA.goto(`${shopA}/account`);
  result.idpPage = tabA.url();
  await tabA.fill('input[name=login]', login);
  await tabA.fill('input[name=password]', 'any-password');
  await submit(tabA, 'button[type=submit]');
  result.consentPage = tabA.url();
  await tabA.waitForSelector('input[name=prompt][value=consent]', { state: 'attached' });
  await submit(tabA, 'button[type=submit]');
  await tabA.waitForURL((u) => u.origin === shopA && u.pathname === '/account', { timeout: WAIT });
  result.a = { finalUrl: tabA.url(), greeting: await greeting(tabA), navs: since(mark) };

  // 2. shop-b in a new tab: greeted at once, through the auth host, no IdP page.
  result.step = '2: open shop-b';
  const tabB = await context.newPage();
  watch(tabB);
  mark = requested.length;
  await tabB.goto(`${shopB}/`);
  await tabB.waitForURL((u) => u.origin === shopB && u.pathname === '/', { timeout: WAIT });
  result.b = {
    finalUrl: tabB.url(),
    greeting: await greeting(tabB),
    navs: since(mark),
    session: await session(tabB),
    origin: await echoed(tabB),
  };
  if (screenshot) await tabB.screenshot({ path: screenshot, timeout: WAIT });
  result.cookies = (await context.cookies()).map((c) => ({
    name: c.name, domain: c.domain, httpOnly: c.httpOnly, sameSite: c.sameSite, secure: c.secure,
  }));

  // 3. Sign out on shop-b (global scope); the IdP asks to confirm its own sign-out.
  result.step = '3: sign out on shop-b';
  mark = requested.length;
  await tabB.goto(`${shopB}/_sso/logout`);
  result.logout = { landed: tabB.url() };
  if (new URL(tabB.url()).origin !== shopB) {
    await submit(tabB, 'button[autofocus]');
  }
  await tabB.waitForURL((u) => u.origin === shopB, { timeout: WAIT });
  result.logout.finalUrl = tabB.url();
  result.logout.greeting = await greeting(tabB);
  result.logout.navs = since(mark);
  result.logout.bSession = await session(tabB);

  // shop-a: its session ended too. Asked from its tab, still on /account (no reload:
  // /account would send an anonymous shopper to sign in), then its public home page.
  result.step = '3: shop-a after the logout';
  result.afterLogout = { aSession: await session(tabA) };
  mark = requested.length;
  await tabA.goto(`${shopA}/`);
  await tabA.waitForURL((u) => u.origin === shopA && u.pathname === '/', { timeout: WAIT });
  result.afterLogout.aHome = { finalUrl: tabA.url(), greeting: await greeting(tabA), navs: since(mark) };

  // 4. The one-time token of step 2, replayed from another browser (as a leaked URL
  // would be): it signs nobody in.
  result.step = '4: replay the one-time token';
  const ott = result.b.navs.find((u) => u.startsWith(`${shopB}/_sso/ott?`) && /[?&]token=/.test(u));
  if (ott) {
    const other = await browser.newContext();
    try {
      const tab = await other.newPage();
      tab.setDefaultTimeout(WAIT);
      await tab.goto(ott, { timeout: WAIT });
      result.replay = { finalUrl: tab.url(), greeting: await greeting(tab), session: await session(tab) };
    } finally {
      await other.close();
    }
  }
  result.step = 'done';
} catch (e) {
  result.error = String(e);
} finally {
  await browser.close().catch(() => {});
  clearTimeout(deadline);
}
console.log(JSON.stringify(result));
