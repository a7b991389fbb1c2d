// The demo storefront origin: shows the identity the gateway handed it.
// Browsers get an HTML page greeting the customer; callers that accept JSON get the
// request echoed back ({method, url, headers, rawHeaders}), which the tests read.
// `?cache=no-store` makes it answer with Cache-Control: no-store; `?cache=cdn` with
// public caching in Cache-Control, CDN-Cache-Control, Surrogate-Control and Expires.
// `?delay_ms=N` (at most 30000) holds the answer back N ms (a slow origin, for tests).
// `?sso_notice=sign_in_cancelled` (the gateway's way back from a cancelled sign-in)
// shows the shop's notice above the greeting.
// With TLS_CERT and TLS_KEY (PEM paths) it serves HTTPS instead of HTTP.
// PORT (default 3000) and HOST (default 127.0.0.1; 0.0.0.0 in a container) set where it listens.
//
// It also plays the shop's back office for the storefront connectors:
// - `POST /hooks/provision` is a provisioning hook: it finds or creates a customer
//   for an IdP subject and answers {customer_id, groups, created}. `POST
//   /hooks/provision/mode` with `ok`, `fail` (503), `garbage`, `slow` or `down`
//   (connection dropped) changes how it answers; `GET /hooks/provision/calls` counts
//   the calls. With PROVISIONING_SECRET set it wants that bearer token.
// - With PLATFORM_LOGIN_SECRET set, `GET /login/token/{jwt}` is a platform's
//   customer-login endpoint: an HS256 JWT under that secret signs the customer in to
//   the "platform" (a `platform_customer` cookie) and redirects to its `redirect_to`.
// - With MERCHANT_LOGIN_SECRET set, `/merchant` is the merchant's own website: its
//   sign-in form signs a customer in at the gateway with a customer-login JWT
//   (iss MERCHANT_CLIENT_ID, default `merchant-site`; store_hash STORE_HASH, default
//   `demo`), landing on `?return_to=`.
//
// Every page includes the gateway's Ecwid SSO profile script (/_sso/ecwid/sso-profile.js,
// where the site has [sites.ecwid]) and says whether it holds a profile; with
// ECWID_STORE_ID set it also loads Ecwid's storefront widget for that store.
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import crypto from 'node:crypto';

const port = Number(process.env.PORT || 3000);
const host = process.env.HOST || '127.0.0.1';
const shop = process.env.SHOP_NAME || 'Demo Shop';
const ecwidStore = /^\d+$/.test(process.env.ECWID_STORE_ID || '') ? process.env.ECWID_STORE_ID : '';

// The gateway's signed profile first, then (optionally) Ecwid's widget, which reads it.
const ecwid = `<h2>Ecwid widget</h2>
<script src="/_sso/ecwid/sso-profile.js"></script>
<p id="ecwid-sso">Ecwid SSO profile: <b><script>
document.write(typeof ecwid_sso_profile === 'undefined' ? 'not served (no [sites.ecwid])'
  : ecwid_sso_profile === '' ? 'empty (anonymous)' : 'signed for this customer');
</script></b></p>
${ecwidStore ? `<div id="my-store-${ecwidStore}"></div>
<script src="https://app.ecwid.com/script.js?${ecwidStore}" charset="utf-8"></script>
<script>xProductBrowser("id=my-store-${ecwidStore}");</script>` : ''}`;

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const delayOf = (url) => {
  const m = /[?&]delay_ms=(\d+)/.exec(url);
  return m ? Math.min(Number(m[1]), 30000) : 0;
};

// The back office: customers by IdP subject, and how the hook answers.
const customers = new Map();
const hook = { mode: 'ok', calls: 0 };
const json = (res, status, value) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
};

const provision = (req, res, body) => {
  if (req.url === '/hooks/provision/calls') return json(res, 200, { calls: hook.calls });
  if (req.url === '/hooks/provision/mode') {
    hook.mode = body.trim();
    return json(res, 200, { mode: hook.mode });
  }
  hook.calls += 1;
  const secret = process.env.PROVISIONING_SECRET;
  if (secret && req.headers.authorization !== `Bearer ${secret}`) return json(res, 401, { error: 'unauthorized' });
  if (hook.mode === 'down') return req.socket.destroy();
  if (hook.mode === 'fail') return json(res, 503, { error: 'back office down' });
  if (hook.mode === 'garbage') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end('{"customer_id": ');
  }
  let who;
  try {
    who = JSON.parse(body);
  } catch {
    return json(res, 400, { error: 'not json' });
  }
  // A customer the merchant's website signed in on a sister shop (cross-site sign-on
  // names that issuer `site:<name>`) already is one of ours: same id.
  const merchantId = typeof who.issuer === 'string' && who.issuer.startsWith('site:') && /^\d+$/.test(who.subject);
  const key = merchantId ? `merchant ${who.subject}` : `${who.issuer} ${who.subject}`;
  const created = !customers.has(key);
  if (created) customers.set(key, merchantId ? who.subject : String(1000 + customers.size + 1));
  const answer = () => json(res, 200, { customer_id: customers.get(key), groups: who.groups || [], created });
  if (hook.mode === 'slow') return setTimeout(answer, 10000);
  answer();
};

// HS256 JWT check with node's crypto, as a platform would do it.
const verifyJwt = (token, secret) => {
  const [h, p, sig] = token.split('.');
  if (!h || !p || !sig) return null;
  const header = JSON.parse(Buffer.from(h, 'base64url').toString());
  if (header.alg !== 'HS256') return null;
  const want = crypto.createHmac('sha256', secret).update(`${h}.${p}`).digest();
  const got = Buffer.from(sig, 'base64url');
  if (got.length !== want.length || !crypto.timingSafeEqual(got, want)) return null;
  return JSON.parse(Buffer.from(p, 'base64url').toString());
};

const platformLogin = (req, res) => {
  let claims = null;
  try {
    claims = verifyJwt(decodeURIComponent(req.url.slice('/login/token/'.length)), process.env.PLATFORM_LOGIN_SECRET);
  } catch {
    claims = null;
  }
  if (!claims || claims.operation !== 'customer_login' || Math.abs(Date.now() / 1000 - claims.iat) > 30) {
    return json(res, 401, { error: 'invalid customer login token' });
  }
  const target = typeof claims.redirect_to === 'string' && claims.redirect_to.startsWith('/') ? claims.redirect_to : '/';
  res.writeHead(303, { location: target, 'set-cookie': `platform_customer=${encodeURIComponent(claims.customer_id)}; Path=/; HttpOnly` });
  res.end();
};

// HS256 JWT with node's crypto, as a merchant's website would mint it.
const signJwt = (claims, secret) => {
  const enc = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const head = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(claims)}`;
  return `${head}.${crypto.createHmac('sha256', secret).update(head).digest('base64url')}`;
};

const merchant = (req, res, body) => {
  const url = new URL(req.url, 'http://merchant');
  const returnTo = url.searchParams.get('return_to') || '/account';
  if (req.method === 'POST' && url.pathname === '/merchant/sign-in') {
    const form = new URLSearchParams(body);
    // The merchant's own customers are numbers 1-999; the provisioning hook numbers
    // the customers it creates for IdP sign-ins from 1001 up, so one number is never
    // two people in the shop group.
    const customerId = Number(form.get('customer_id'));
    if (!Number.isInteger(customerId) || customerId < 1 || customerId > 999) {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
      return res.end('The merchant\'s customer numbers are 1 to 999.');
    }
    const claims = {
      iss: process.env.MERCHANT_CLIENT_ID || 'merchant-site',
      iat: Math.floor(Date.now() / 1000),
      jti: crypto.randomUUID(),
      operation: 'customer_login',
      store_hash: process.env.STORE_HASH || 'demo',
      customer_id: customerId,
      redirect_to: form.get('return_to') || '/account',
    };
    res.writeHead(303, { location: `/login/token/${signJwt(claims, process.env.MERCHANT_LOGIN_SECRET)}` });
    return res.end();
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Merchant website</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>Merchant website (demo)</h1>
<p>This page stands for the merchant's own website: it knows its customers and signs them in to the shop with a customer-login JWT.</p>
<form method="post" action="/merchant/sign-in">
<input type="hidden" name="return_to" value="${escape(returnTo)}">
<label>Customer number (1–999) <input name="customer_id" id="customer_id" value="42" inputmode="numeric"></label>
<button type="submit" id="sign-in">Sign in to the shop</button>
</form>
<p>Or <a href="/_sso/login?via=idp&amp;return_to=${encodeURIComponent(returnTo)}">sign in with the identity provider</a>.</p>
</body></html>`);
};

// The demo shop's logo, shown on the gateway's own pages ([sites.pages] logo_url).
const LOGO = `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40" viewBox="0 0 120 40">
<rect width="40" height="40" rx="9" fill="#0b6e4f"/><path d="M11 15h18l-2 14H13z" fill="#fff"/>
<path d="M15 15a5 5 0 0 1 10 0" stroke="#fff" stroke-width="2.5" fill="none"/>
<text x="48" y="27" font-family="sans-serif" font-size="17" font-weight="700" fill="#0b6e4f">Demo</text></svg>`;

const handler = (req, res) => {
  if (req.url === '/logo.svg') {
    res.writeHead(200, { 'content-type': 'image/svg+xml', 'cache-control': 'public, max-age=3600' });
    return res.end(LOGO);
  }
  if (process.env.MERCHANT_LOGIN_SECRET && req.url.startsWith('/merchant')) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => merchant(req, res, Buffer.concat(chunks).toString('utf8')));
    return;
  }
  if (req.url.startsWith('/hooks/provision')) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => provision(req, res, Buffer.concat(chunks).toString('utf8')));
    return;
  }
  if (process.env.PLATFORM_LOGIN_SECRET && req.url.startsWith('/login/token/')) return platformLogin(req, res);
  const delay = delayOf(req.url);
  if (delay > 0) {
    setTimeout(() => respond(req, res), delay);
    return;
  }
  respond(req, res);
};

const respond = (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const echo = {
      method: req.method,
      url: req.url,
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    const headers = {};
    if (req.url.includes('cache=no-store')) headers['cache-control'] = 'no-store';
    if (req.url.includes('cache=cdn')) {
      // What a shop behind a CDN might send: every field a cache reads.
      headers['cache-control'] = 'public, max-age=60';
      headers['cdn-cache-control'] = 'max-age=600';
      headers['cloudflare-cdn-cache-control'] = 'max-age=600';
      headers['surrogate-control'] = 'max-age=600';
      headers['expires'] = new Date(Date.now() + 600000).toUTCString();
    }
    if ((req.headers.accept || '').includes('application/json')) {
      res.writeHead(200, { ...headers, 'content-type': 'application/json' });
      res.end(JSON.stringify(echo));
      return;
    }
    // The gateway's notice of why the shopper is back (docs/pages.md#the-way-back):
    // a shop shows it in its own words.
    const notices = { sign_in_cancelled: 'You cancelled the sign-in. You can keep shopping as a guest.' };
    const notice = notices[new URL(req.url, 'http://shop').searchParams.get('sso_notice')];
    const noticeHtml = notice ? `<p id="sso-notice" role="status">${escape(notice)}</p>` : '';
    const id = req.headers['x-customer-id'];
    const who = id
      ? `<p id="greeting">Welcome back, <b>${escape(req.headers['x-customer-name'] || req.headers['x-customer-email'] || id)}</b>!</p>
         <p>Customer id <code>${escape(id)}</code>, email <code>${escape(req.headers['x-customer-email'] || '')}</code>.</p>
         <p><a href="/_sso/logout">Sign out</a></p>`
      : `<p id="greeting">Hello, guest.</p><p><a href="/_sso/login?return_to=/account">Sign in</a> or open <a href="/account">your account</a>.</p>`;
    res.writeHead(200, { ...headers, 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(shop)}</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>${escape(shop)}</h1>${noticeHtml}${who}
${ecwid}
<h2>What the gateway sent this origin</h2>
<pre style="white-space:pre-wrap;word-break:break-all">${escape(JSON.stringify(Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('x-'))), null, 2))}</pre>
<script type="application/json" id="echo">${JSON.stringify(echo).replace(/</g, '\\u003c')}</script>
</body></html>`);
  });
};

const server = process.env.TLS_CERT
  ? https.createServer({ cert: fs.readFileSync(process.env.TLS_CERT), key: fs.readFileSync(process.env.TLS_KEY) }, handler)
  : http.createServer(handler);

server.listen(port, host, () => {
  console.log(`storefront listening on ${process.env.TLS_CERT ? 'https' : 'http'}://${host}:${port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
