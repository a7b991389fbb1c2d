// The shopper's way back, in a real headless Chromium (Debian's, driven by
// playwright-core) against the real gateway, IdP and demo storefront:
//  1. Cancel on the IdP's sign-in page, from a public page: back on that page,
//     signed out, with the shop's notice.
//  2. Cancel from a login-only page: on the shop's home, with the notice.
//  3. A real sign-in, then the Back button, then the finished callback's URL opened
//     again: still on shop pages, signed in.
//  4. Another browser (anonymous) opens that callback URL: a clear page with the
//     request id and a way back, and it is not signed in.
// Prints one JSON line with what it saw.
//   node way_back.mjs <shop-base-url> <login>
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../deploy/demo/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [base, login] = process.argv.slice(2);
const at = (path) => new URL(path, base).href;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const result = {};
const greeting = async (page) => (await page.$('#greeting')) && page.textContent('#greeting');
const notice = async (page) => (await page.$('#sso-notice')) && page.textContent('#sso-notice');

// Starts at `path`, lands on the IdP's sign-in page and clicks its Cancel link.
const cancelFrom = async (page, path) => {
  await page.goto(at(path));
  const idp = page.url();
  await page.click('text=[ Cancel ]');
  await page.waitForLoadState('load');
  return { idp, url: page.url(), greeting: await greeting(page), notice: await notice(page) };
};

try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  result.publicCancel = await cancelFrom(page, '/_sso/login?return_to=%2Fshoes%3Fsize%3D9');
  result.loginCancel = await cancelFrom(page, '/account/orders');

  // A real sign-in, watching for the callback's URL.
  let callback = null;
  page.on('request', (r) => {
    if (r.isNavigationRequest() && new URL(r.url()).pathname === '/login/sso/callback') callback = r.url();
  });
  await page.goto(at('/account/orders'));
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'any-password');
  await page.click('button[type=submit]');
  await page.waitForSelector('button[type=submit]');
  await page.click('button[type=submit]'); // consent
  await page.waitForSelector('#greeting');
  result.signedIn = { url: page.url(), greeting: await greeting(page) };
  result.callback = callback;

  // The Back button: wherever the history leads, never a gateway error page.
  const back = await page.goBack({ waitUntil: 'load' }).catch((e) => ({ error: String(e) }));
  result.back = { url: page.url(), status: back && back.status ? back.status() : null, gatewayError: Boolean(await page.$('p.meta')) };

  // The finished callback's URL again (Back to it, or history reopened).
  const again = await page.goto(callback);
  result.callbackAgain = { url: page.url(), status: again.status(), greeting: await greeting(page) };

  // Another, anonymous browser with the same callback URL.
  const stranger = await browser.newContext();
  const other = await stranger.newPage();
  const replay = await other.goto(callback);
  result.stranger = {
    status: replay.status(),
    url: other.url(),
    text: await other.textContent('main'),
    backHref: await other.getAttribute('main .actions a', 'href'),
  };
  await other.goto(at('/'));
  result.stranger.afterwards = await greeting(other);
} catch (e) {
  result.error = String(e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
