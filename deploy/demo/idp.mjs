// A local OpenID provider (the real `oidc-provider` package) for the demo and the tests.
// Any login name signs in (the password is ignored); the subject is the login name.
//   PORT                       listen port (default 9000)
//   HOST                       listen address (default 127.0.0.1; 0.0.0.0 in a container)
//   ISSUER                     the issuer URL (default http://127.0.0.1:PORT)
//   ISSUER_TRAILING_SLASH      "1": the default issuer ends with "/" (as Auth0's and Azure AD
//                              B2C's do)
//   CLIENT_ID / CLIENT_SECRET  the one static client (storefront / demo-client-secret)
//   REDIRECT_URIS              comma-separated callback URLs (exact match)
//   POST_LOGOUT_REDIRECT_URIS  comma-separated post-logout URLs
//   ID_TOKEN_TTL               seconds (default 3600)
//   ACCESS_TOKEN_TTL           seconds (default 3600); refresh tokens are always issued
//   ROTATE_REFRESH_TOKENS      "1": every refresh returns a new refresh token and the
//                              old one is spent (reusing it revokes the grant)
//   BACKCHANNEL_LOGOUT_URI     the client's back-channel logout URI (e.g.
//                              http://127.0.0.1:8080/_sso/backchannel-logout): ending an
//                              IdP session then POSTs a logout token there, and ID
//                              tokens carry the IdP session's `sid`
//   IDP_SIGNING_KEY_FILE       PEM private key(s) (comma-separated; RSA or EC) the provider
//                              signs with, instead of its development keys (tests mint tokens
//                              with the same keys)
//   TOKEN_ENDPOINT_AUTH_METHOD how the client must authenticate (default client_secret_basic;
//                              client_secret_post, private_key_jwt): any other is refused
//                              (for client_secret_post: any POST with Authorization: Basic)
//   CLIENT_JWKS                the client's public JWKS (JSON) for private_key_jwt, e.g. what
//                              `sso-gateway client-jwks --key FILE` prints
//   PAR                        "required": every authorization request must be pushed
//                              (RFC 9126); "off": no PAR endpoint in discovery; unset: offered
//   RP_INITIATED_LOGOUT        "off": no end_session_endpoint in discovery (as Google's)
//   REVOCATION                 "1": token revocation (RFC 7009) and introspection (RFC 7662)
//                              endpoints, for the client itself
//   TLS_CERT / TLS_KEY         serve HTTPS with this certificate chain and key (the issuer
//                              then defaults to https://127.0.0.1:PORT)
//   MTLS                       "1" (with TLS_CERT): ask for a client certificate and bind the
//                              client's access tokens to it (RFC 8705 §3): a token request
//                              without a certificate is refused
//
// Groups and claims, for route policies: a login name `ann~wholesale~staff~department=sales`
// signs in `ann~wholesale~staff~department=sales` with groups ["wholesale", "staff"] and
// the claim department="sales", sent (as stock oidc-provider does) only through userinfo
// and only for the `groups` scope. The tag `unverified` (`ivan~unverified`) is no group:
// the account's email_verified is false. `name=Olga Petrova` sets the display name.
// The tag `silent` (`una~silent`) leaves email_verified out of the account's claims (as
// Entra ID does for some account types): the address arrives, verified or not unsaid.
// The tag `bellmail` (`eve~bellmail`) ends the (verified) address with a control
// character, as a hostile or broken IdP might: the gateway must not hand it on.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 9000);
const tlsCert = process.env.TLS_CERT;
const mtls = Boolean(tlsCert) && process.env.MTLS === '1';
const slash = process.env.ISSUER_TRAILING_SLASH === '1' ? '/' : '';
const issuer = process.env.ISSUER || `${tlsCert ? 'https' : 'http'}://127.0.0.1:${port}${slash}`;
const authMethod = process.env.TOKEN_ENDPOINT_AUTH_METHOD || 'client_secret_basic';
const par = process.env.PAR;
const revocation = process.env.REVOCATION === '1';
const rpInitiatedLogout = process.env.RP_INITIATED_LOGOUT !== 'off';
const list = (v) => (v || '').split(',').map((s) => s.trim()).filter(Boolean);
const backchannelLogoutUri = process.env.BACKCHANNEL_LOGOUT_URI;
const signingKeyFile = process.env.IDP_SIGNING_KEY_FILE;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.CLIENT_ID || 'storefront',
      redirect_uris: list(process.env.REDIRECT_URIS || 'http://shop.localhost:8080/login/sso/callback'),
      post_logout_redirect_uris: list(process.env.POST_LOGOUT_REDIRECT_URIS || 'http://shop.localhost:8080/'),
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: authMethod,
      ...(authMethod === 'private_key_jwt'
        ? { jwks: JSON.parse(process.env.CLIENT_JWKS || '{"keys":[]}') }
        : { client_secret: process.env.CLIENT_SECRET || 'demo-client-secret' }),
      ...(par === 'required' ? { require_pushed_authorization_requests: true } : {}),
      ...(mtls ? { tls_client_certificate_bound_access_tokens: true } : {}),
      ...(backchannelLogoutUri
        ? { backchannel_logout_uri: backchannelLogoutUri, backchannel_logout_session_required: true }
        : {}),
    },
  ],
  ...(signingKeyFile
    ? {
        jwks: {
          keys: list(signingKeyFile).map((file) => ({
            ...createPrivateKey(readFileSync(file)).export({ format: 'jwk' }),
            use: 'sig',
          })),
        },
      }
    : {}),
  // The provider refuses to fetch from loopback addresses (SSRF protection); the
  // gateway of the demo and the tests is on loopback, and this is its only fetch.
  ...(backchannelLogoutUri
    ? {
        fetch: (url, options) => {
          const { dispatcher, ...rest } = options;
          return globalThis.fetch(url, rest);
        },
      }
    : {}),
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups', 'department', 'level'],
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: rpInitiatedLogout },
    backchannelLogout: { enabled: true },
    pushedAuthorizationRequests: {
      enabled: par !== 'off',
      requirePushedAuthorizationRequests: par === 'required',
    },
    revocation: { enabled: revocation },
    introspection: { enabled: revocation },
    ...(mtls
      ? {
          mTLS: {
            enabled: true,
            certificateBoundAccessTokens: true,
            getCertificate(ctx) {
              const peer = ctx.socket.getPeerCertificate?.(false);
              return peer && peer.raw ? new X509Certificate(peer.raw) : undefined;
            },
          },
        }
      : {}),
  },
  pkce: { required: () => true },
  ttl: {
    IdToken: Number(process.env.ID_TOKEN_TTL || 3600),
    AccessToken: Number(process.env.ACCESS_TOKEN_TTL || 3600),
  },
  rotateRefreshToken: process.env.ROTATE_REFRESH_TOKENS === '1' ? true : undefined,
  // The gateway keeps sessions alive with refresh tokens: issue one on every login.
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  async findAccount(ctx, id) {
    const login = String(id);
    const [person, ...tags] = login.split('~');
    const bell = tags.includes('bellmail') ? '\u0007' : '';
    const email = `${person.includes('@') ? person : `${person}@example.com`}${bell}`;
    const name = person.split('@')[0].replace(/^\w/, (c) => c.toUpperCase());
    const unverified = tags.includes('unverified');
    const silent = tags.includes('silent');
    const groups = tags.filter((t) => !t.includes('=') && !['unverified', 'bellmail', 'silent'].includes(t));
    const extra = Object.fromEntries(tags.filter((t) => t.includes('=')).map((t) => t.split('=', 2)));
    return {
      accountId: login,
      async claims() {
        const verified = silent ? {} : { email_verified: !unverified };
        return { sub: login, email, ...verified, name, groups, ...extra };
      },
    };
  },
});
provider.proxy = true;
// oidc-provider takes a client secret in either place whatever the client registered;
// a client registered for client_secret_post gets the strictness of IdPs that refuse
// the Authorization header (the OpenID RP test rp-token_endpoint-client_secret_post).
if (authMethod === 'client_secret_post') {
  provider.use(async (ctx, next) => {
    if (ctx.method === 'POST' && /^basic /i.test(ctx.get('authorization'))) {
      ctx.status = 401;
      ctx.body = { error: 'invalid_client', error_description: 'this client authenticates with client_secret_post' };
      return;
    }
    await next();
  });
}
provider.on('backchannel.success', (ctx, client) => console.log(`back-channel logout sent to ${client.clientId}`));
provider.on('backchannel.error', (ctx, err, client) => console.log(`back-channel logout to ${client.clientId} failed: ${err.message}`));

const listening = () => console.log(`oidc-provider listening on ${issuer}`);
if (tlsCert) {
  const options = { cert: readFileSync(tlsCert), key: readFileSync(process.env.TLS_KEY) };
  // Any client certificate is asked for and read; the token binding (not the
  // handshake) is what refuses a request without one.
  if (mtls) Object.assign(options, { requestCert: true, rejectUnauthorized: false });
  createServer(options, provider.callback()).listen(port, process.env.HOST || '127.0.0.1', listening);
} else {
  provider.listen(port, process.env.HOST || '127.0.0.1', listening);
}
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
