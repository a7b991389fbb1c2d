// The demo storefront origin: shows the identity the gateway handed it.
// Browsers get an HTML page greeting the customer; callers that accept JSON get the
// request echoed back ({method, url, headers, rawHeaders}), which the tests read.
// `?cache=no-store` makes it answer with Cache-Control: no-store.
// `?delay_ms=N` (at most 30000) holds the answer back N ms (a slow origin, for tests).
// With TLS_CERT and TLS_KEY (PEM paths) it serves HTTPS instead of HTTP.
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';

const port = Number(process.env.PORT || 3000);
const shop = process.env.SHOP_NAME || 'Demo Shop';

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const delayOf = (url) => {
  const m = /[?&]delay_ms=(\d+)/.exec(url);
  return m ? Math.min(Number(m[1]), 30000) : 0;
};

const handler = (req, res) => {
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
    if ((req.headers.accept || '').includes('application/json')) {
      res.writeHead(200, { ...headers, 'content-type': 'application/json' });
      res.end(JSON.stringify(echo));
      return;
    }
    const id = req.headers['x-customer-id'];
    const who = id
      ? `<p id="greeting">Welcome back, <b>${escape(req.headers['x-customer-name'] || req.headers['x-customer-email'] || id)}</b>!</p>
         <p>Customer id <code>${escape(id)}</code>, email <code>${escape(req.headers['x-customer-email'] || '')}</code>.</p>
         <p><a href="/_sso/logout">Sign out</a></p>`
      : `<p id="greeting">Hello, guest.</p><p><a href="/_sso/login?return_to=/account">Sign in</a> or open <a href="/account">your account</a>.</p>`;
    res.writeHead(200, { ...headers, 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(shop)}</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>${escape(shop)}</h1>${who}
<h2>What the gateway sent this origin</h2>
<pre style="white-space:pre-wrap;word-break:break-all">${escape(JSON.stringify(Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('x-'))), null, 2))}</pre>
<script type="application/json" id="echo">${JSON.stringify(echo).replace(/</g, '\\u003c')}</script>
</body></html>`);
  });
};

const server = process.env.TLS_CERT
  ? https.createServer({ cert: fs.readFileSync(process.env.TLS_CERT), key: fs.readFileSync(process.env.TLS_KEY) }, handler)
  : http.createServer(handler);

server.listen(port, '127.0.0.1', () => {
  console.log(`storefront listening on ${process.env.TLS_CERT ? 'https' : 'http'}://127.0.0.1:${port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
