// A misbehaving OpenID provider for the conformance tests (OpenID Foundation RP
// certification, code flow). It runs the code flow honestly — /authorize remembers
// nonce, state and PKCE challenge and answers at once with a redirect; /token checks
// client_secret_basic, the code, redirect_uri and PKCE S256 — and then answers in the
// way the current *mode* says: a good ID token, or one that is broken on purpose.
// Node built-ins only (node:crypto signs and exports the keys).
//
//   PORT   listen port on 127.0.0.1 (required)
//   KEYS   the signing keys published at start, comma-separated kinds (`rsa`, `ec`);
//          default `rsa,ec`. The first `rsa` signs RS256 tokens, the first `ec` ES256.
//   CLIENT_ID / CLIENT_SECRET  the one client (storefront / test-client-secret)
//
// Control (tests only; loopback):
//   POST /_mode    {"mode": "<name>", "sub": "<subject>"}  switch the behaviour
//   POST /_rotate  replace the RS256 key by a new one with a new kid; the JWKS then
//                  serves the new key (and no longer the old one); answers {"kid": ...}
//   GET  /_stats   how often each endpoint was called
import crypto from 'node:crypto';
import http from 'node:http';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const clientId = process.env.CLIENT_ID || 'storefront';
const clientSecret = process.env.CLIENT_SECRET || 'test-client-secret';

const MODES = new Set([
  'good_rs256', 'good_es256', 'kid_absent', 'issuer_mismatch', 'wrong_aud', 'missing_aud',
  'multi_aud_wrong_azp', 'bad_sig_rs256', 'bad_sig_es256', 'alg_none', 'hs256_public_pem',
  'hs256_public_jwk', 'unknown_kid', 'retired_key', 'wrong_nonce', 'missing_nonce', 'expired',
  'missing_sub', 'missing_iat', 'userinfo_sub_mismatch', 'token_invalid_grant', 'token_500',
  'token_garbage', 'token_hang', 'stale_auth_time', 'acr_mfa', 'acr_pwd',
]);
let mode = 'good_rs256';
let subject = 'rp-tester';
const stats = { discovery: 0, jwks: 0, authorize: 0, token: 0, userinfo: 0, last_authorize: {} };

// ---- keys -------------------------------------------------------------------------

let keySerial = 0;
function newKey(kind) {
  keySerial += 1;
  const pair = kind === 'rsa'
    ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const alg = kind === 'rsa' ? 'RS256' : 'ES256';
  const kid = `${kind}-${keySerial}`;
  const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg };
  return { kind, alg, kid, jwk, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

const keys = (process.env.KEYS || 'rsa,ec').split(',').map((k) => newKey(k.trim()));
const retired = [];
// Signs the `unknown_kid` tokens; never published. Made now: RSA key generation can
// take longer than the gateway's 2 s token timeout on a busy machine.
const forgerKey = newKey('rsa');
const firstOf = (kind) => keys.find((k) => k.kind === kind);

function rotate() {
  const i = keys.findIndex((k) => k.kind === 'rsa');
  const fresh = newKey('rsa');
  if (i >= 0) retired.push(...keys.splice(i, 1, fresh));
  else keys.unshift(fresh);
  return fresh.kid;
}

// ---- JWTs -------------------------------------------------------------------------

const b64u = (buf) => Buffer.from(buf).toString('base64url');

function signWith(alg, key, input) {
  switch (alg) {
    case 'RS256':
      return crypto.sign('sha256', Buffer.from(input), key.privateKey);
    case 'ES256':
      return crypto.sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    default:
      throw new Error(`cannot sign ${alg}`);
  }
}

function jwt(header, payload, signature) {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  return `${input}.${b64u(signature(input))}`;
}

function flipFirstByte(buf) {
  const copy = Buffer.from(buf);
  copy[0] ^= 0x5a;
  return copy;
}

// at_hash: left half of SHA-256 of the access token (RS256 and ES256 both hash with SHA-256).
const atHash = (accessToken) => b64u(crypto.createHash('sha256').update(accessToken).digest().subarray(0, 16));

function idToken(m, grant, accessToken) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: issuer, sub: grant.sub, aud: clientId, exp: now + 300, iat: now,
    nonce: grant.nonce, at_hash: atHash(accessToken),
    email: `${grant.sub}@example.com`, email_verified: true, name: 'RP Tester',
    // The sign-in happens at /authorize (no prompt here): now, unless the mode forges it.
    auth_time: m === 'stale_auth_time' ? now - 3600 : now,
    ...(m === 'acr_mfa' ? { acr: 'mfa' } : {}),
    ...(m === 'acr_pwd' ? { acr: 'pwd' } : {}),
  };
  const rsa = firstOf('rsa');
  const ec = firstOf('ec');
  const rs256 = (c, header = { alg: 'RS256', typ: 'JWT', kid: rsa.kid }) =>
    jwt(header, c, (input) => signWith('RS256', rsa, input));
  switch (m) {
    case 'good_rs256':
    case 'stale_auth_time':
    case 'acr_mfa':
    case 'acr_pwd':
    case 'userinfo_sub_mismatch':
      return rs256(claims);
    case 'good_es256':
      return jwt({ alg: 'ES256', typ: 'JWT', kid: ec.kid }, claims, (input) => signWith('ES256', ec, input));
    case 'kid_absent':
      return rs256(claims, { alg: 'RS256', typ: 'JWT' });
    case 'issuer_mismatch':
      return rs256({ ...claims, iss: 'https://evil.example' });
    case 'wrong_aud':
      return rs256({ ...claims, aud: 'another-client' });
    case 'missing_aud': {
      const { aud, ...rest } = claims;
      return rs256(rest);
    }
    case 'multi_aud_wrong_azp':
      return rs256({ ...claims, aud: [clientId, 'another-client'], azp: 'another-client' });
    case 'bad_sig_rs256':
      return jwt({ alg: 'RS256', typ: 'JWT', kid: rsa.kid }, claims,
        (input) => flipFirstByte(signWith('RS256', rsa, input)));
    case 'bad_sig_es256':
      return jwt({ alg: 'ES256', typ: 'JWT', kid: ec.kid }, claims,
        (input) => flipFirstByte(signWith('ES256', ec, input)));
    case 'alg_none':
      return jwt({ alg: 'none', typ: 'JWT' }, claims, () => Buffer.alloc(0));
    case 'hs256_public_pem':
    case 'hs256_public_jwk': {
      // Algorithm confusion: an HMAC whose key is the provider's *public* key.
      const secret = m === 'hs256_public_pem'
        ? rsa.publicKey.export({ type: 'spki', format: 'pem' })
        : JSON.stringify(rsa.jwk);
      return jwt({ alg: 'HS256', typ: 'JWT', kid: rsa.kid }, claims,
        (input) => crypto.createHmac('sha256', secret).update(input).digest());
    }
    case 'unknown_kid': {
      // A key the provider never published, with a made-up kid (a forgery).
      return jwt({ alg: 'RS256', typ: 'JWT', kid: `forged-${crypto.randomUUID()}` }, claims,
        (input) => signWith('RS256', forgerKey, input));
    }
    case 'retired_key': {
      const old = retired[retired.length - 1];
      if (!old) throw new Error('no retired key: POST /_rotate first');
      return jwt({ alg: 'RS256', typ: 'JWT', kid: old.kid }, claims, (input) => signWith('RS256', old, input));
    }
    case 'wrong_nonce':
      return rs256({ ...claims, nonce: 'not-the-nonce-you-sent' });
    case 'missing_nonce': {
      const { nonce, ...rest } = claims;
      return rs256(rest);
    }
    case 'expired':
      return rs256({ ...claims, iat: now - 7200, exp: now - 3600 });
    case 'missing_sub': {
      const { sub, ...rest } = claims;
      return rs256(rest);
    }
    case 'missing_iat': {
      const { iat, ...rest } = claims;
      return rs256(rest);
    }
    default:
      throw new Error(`no ID token for mode ${m}`);
  }
}

// ---- HTTP -------------------------------------------------------------------------

const codes = new Map(); // code -> { clientId, redirectUri, nonce, challenge, sub }
const accessTokens = new Map(); // access token -> { sub, mode }

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const type = typeof body === 'string' ? 'text/plain' : 'application/json';
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function discovery() {
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    userinfo_endpoint: `${issuer}/userinfo`,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256', 'ES256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic'],
    grant_types_supported: ['authorization_code'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: ['openid', 'email', 'profile'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'email', 'name'],
  };
}

function authorize(url, res) {
  const p = url.searchParams;
  const redirectUri = p.get('redirect_uri');
  if (p.get('client_id') !== clientId || !redirectUri) return send(res, 400, { error: 'invalid_request' });
  const back = new URL(redirectUri);
  const refuse = (error) => {
    back.searchParams.set('error', error);
    if (p.get('state')) back.searchParams.set('state', p.get('state'));
    res.writeHead(302, { location: back.toString() });
    res.end();
  };
  if (p.get('response_type') !== 'code') return refuse('unsupported_response_type');
  if (!(p.get('scope') || '').split(' ').includes('openid')) return refuse('invalid_scope');
  if (p.get('code_challenge_method') !== 'S256' || !p.get('code_challenge')) return refuse('invalid_request');
  stats.last_authorize = {
    max_age: p.get('max_age'), prompt: p.get('prompt'), acr_values: p.get('acr_values'),
  };
  const code = crypto.randomBytes(24).toString('base64url');
  codes.set(code, {
    redirectUri, nonce: p.get('nonce'), challenge: p.get('code_challenge'), sub: subject,
  });
  back.searchParams.set('code', code);
  back.searchParams.set('state', p.get('state') || '');
  back.searchParams.set('iss', issuer);
  res.writeHead(302, { location: back.toString() });
  res.end();
}

function clientAuthenticated(req) {
  const header = req.headers.authorization || '';
  if (!header.startsWith('Basic ')) return false;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  // client_secret_basic form-urlencodes id and secret before base64 (RFC 6749 2.3.1).
  const id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
  const secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
  return id === clientId && secret === clientSecret;
}

async function token(req, res) {
  const form = new URLSearchParams(await readBody(req));
  if (!clientAuthenticated(req)) {
    return send(res, 401, { error: 'invalid_client' }, { 'www-authenticate': 'Basic realm="idp"' });
  }
  if (form.get('grant_type') !== 'authorization_code') return send(res, 400, { error: 'unsupported_grant_type' });
  const grant = codes.get(form.get('code') || '');
  codes.delete(form.get('code') || '');
  if (!grant || form.get('redirect_uri') !== grant.redirectUri) return send(res, 400, { error: 'invalid_grant' });
  const verifier = form.get('code_verifier') || '';
  const challenge = b64u(crypto.createHash('sha256').update(verifier).digest());
  if (verifier.length < 43 || challenge !== grant.challenge) {
    return send(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
  }
  const m = mode;
  switch (m) {
    case 'token_invalid_grant':
      return send(res, 400, { error: 'invalid_grant', error_description: 'the code was revoked' });
    case 'token_500':
      return send(res, 500, 'internal server error');
    case 'token_garbage':
      return send(res, 200, '<html>definitely not a token response', { 'content-type': 'application/json' });
    case 'token_hang':
      return; // never answers; the connection stays open until the client gives up
    default: {
      const accessToken = crypto.randomBytes(24).toString('base64url');
      accessTokens.set(accessToken, { sub: grant.sub, mode: m });
      return send(res, 200, {
        access_token: accessToken,
        token_type: 'Bearer',
        expires_in: 300,
        id_token: idToken(m, grant, accessToken),
      });
    }
  }
}

function userinfo(req, res) {
  const header = req.headers.authorization || '';
  const grant = header.startsWith('Bearer ') && accessTokens.get(header.slice(7));
  if (!grant) return send(res, 401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
  const sub = grant.mode === 'userinfo_sub_mismatch' ? 'somebody-else' : grant.sub;
  return send(res, 200, { sub, email: `${grant.sub}@example.com`, email_verified: true, name: 'RP Tester' });
}

async function control(req, res, path) {
  if (path === '/_stats') return send(res, 200, stats);
  if (path === '/_rotate' && req.method === 'POST') return send(res, 200, { kid: rotate() });
  if (path === '/_mode' && req.method === 'POST') {
    const body = JSON.parse((await readBody(req)) || '{}');
    if (!MODES.has(body.mode)) return send(res, 400, { error: `unknown mode ${body.mode}` });
    mode = body.mode;
    if (body.sub) subject = body.sub;
    return send(res, 200, { mode, sub: subject });
  }
  return send(res, 404, { error: 'not_found' });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  console.log(`${req.method} ${url.pathname} mode=${mode}`);
  try {
    switch (url.pathname) {
      case '/.well-known/openid-configuration':
        stats.discovery += 1;
        return send(res, 200, discovery());
      case '/jwks':
        stats.jwks += 1;
        return send(res, 200, { keys: keys.map((k) => k.jwk) });
      case '/authorize':
        stats.authorize += 1;
        return authorize(url, res);
      case '/token':
        stats.token += 1;
        if (req.method !== 'POST') return send(res, 405, { error: 'invalid_request' });
        return await token(req, res);
      case '/userinfo':
        stats.userinfo += 1;
        return userinfo(req, res);
      default:
        if (url.pathname.startsWith('/_')) return await control(req, res, url.pathname);
        return send(res, 404, { error: 'not_found' });
    }
  } catch (e) {
    console.error(e);
    return send(res, 500, { error: 'server_error' });
  }
});

server.listen(port, '127.0.0.1', () => {
  console.log(`misbehaving IdP on ${issuer}, keys ${keys.map((k) => k.kid).join(',')}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
