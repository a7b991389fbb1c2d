// Verifies the gateway's X-Customer-Token in a Node.js origin, with `jose`.
//   SSO_ISSUER    the site's public_url, e.g. https://shop.example.com (the token's `iss`)
//   SSO_AUDIENCE  the site's name in gateway.toml, e.g. shop (the token's `aud`)
//   SSO_JWKS_URL  where the keys are (default: $SSO_ISSUER/_sso/jwks.json)
// As a command: `node verify.mjs TOKEN` prints the verified claims as JSON, or the
// reason on stderr with exit status 1. In an origin: import { verifyCustomerToken }.
import { pathToFileURL } from 'node:url';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const issuer = process.env.SSO_ISSUER;
const audience = process.env.SSO_AUDIENCE;
const jwksUrl = process.env.SSO_JWKS_URL || `${issuer}/_sso/jwks.json`;

// Fetched once, kept, and fetched again when a token names a key it does not hold
// (the gateway's keys rotate).
const keys = createRemoteJWKSet(new URL(jwksUrl));

export async function verifyCustomerToken(token) {
  const { payload } = await jwtVerify(token, keys, {
    algorithms: ['ES256'], // the gateway signs with ES256 only; never trust the header's choice
    issuer, // iss = the site's public_url
    audience, // aud = the site name (an API token's `<site>:api` is refused)
    typ: 'customer+jwt', // an X-Customer-Token, not another kind of token
    requiredClaims: ['sub', 'sid', 'exp', 'iat'],
    clockTolerance: 5, // seconds
  });
  return payload; // sub, email, name, groups, auth_time, acr, amr, sid
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    console.log(JSON.stringify(await verifyCustomerToken(process.argv[2] ?? '')));
  } catch (err) {
    console.error(`refused: ${err.code ?? err.name}: ${err.message}`);
    process.exit(1);
  }
}
