// The gateway's own pages in a real headless Chromium (Debian's, driven by
// playwright-core): for each language, sign in once (so a 403 can be reached), then
// open every page, run axe-core on it and take a screenshot. Prints one JSON line.
//   node pages.mjs <spec.json>
// spec: { "languages": ["en", "de"], "signIn": { "url": …, "login": … },
//         "pages": [{ "name": …, "url": … }], "screenshots": "<dir>" }
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const require = createRequire(new URL('../../deploy/demo/package.json', import.meta.url));
const { chromium } = require('playwright-core');
const axePath = require.resolve('axe-core/axe.min.js');

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const result = { pages: [] };
try {
  for (const lang of spec.languages) {
    // The pages forbid every script (CSP default-src 'none'): axe is injected with the
    // CSP bypassed in this context only; the test checks the header separately.
    const context = await browser.newContext({
      bypassCSP: true,
      locale: lang,
      extraHTTPHeaders: { 'Accept-Language': lang },
      viewport: { width: 900, height: 640 },
    });
    const page = await context.newPage();
    page.setDefaultTimeout(20000);
    if (spec.signIn) {
      await page.goto(spec.signIn.url);
      await page.fill('input[name=login]', spec.signIn.login);
      await page.fill('input[name=password]', 'any-password');
      await page.click('button[type=submit]');
      await page.waitForSelector('button[type=submit]');
      await page.click('button[type=submit]'); // consent
      await page.waitForURL((u) => !u.href.includes('/interaction/'));
    }
    for (const p of spec.pages) {
      const response = await page.goto(p.url);
      await page.addScriptTag({ path: axePath });
      const axe = await page.evaluate(async () => {
        const r = await window.axe.run(document, { resultTypes: ['violations'] });
        return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')) }));
      });
      const screenshot = join(spec.screenshots, `${p.name}-${lang}.png`);
      await page.screenshot({ path: screenshot, fullPage: true });
      result.pages.push({
        name: p.name,
        lang,
        status: response ? response.status() : 0,
        htmlLang: await page.evaluate(() => document.documentElement.lang),
        h1: await page.evaluate(() => document.querySelector('h1')?.textContent ?? ''),
        logoLoaded: await page.evaluate(() => {
          const img = document.querySelector('header img');
          return img ? img.complete && img.naturalWidth > 0 : null;
        }),
        violations: axe,
        screenshot,
      });
    }
    await context.close();
  }
} catch (e) {
  result.error = String(e && e.stack || e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
