"""Verifies the gateway's X-Customer-Token in a Python origin, with PyJWT (and cryptography).

  SSO_ISSUER    the site's public_url, e.g. https://shop.example.com (the token's `iss`)
  SSO_AUDIENCE  the site's name in gateway.toml, e.g. shop (the token's `aud`)
  SSO_JWKS_URL  where the keys are (default: $SSO_ISSUER/_sso/jwks.json)

As a command: `python3 verify.py TOKEN` prints the verified claims as JSON, or the
reason on stderr with exit status 1. In an origin: from verify import verify_customer_token.
"""

import json
import os
import sys

import jwt

ISSUER = os.environ.get("SSO_ISSUER", "")
AUDIENCE = os.environ.get("SSO_AUDIENCE", "")
JWKS_URL = os.environ.get("SSO_JWKS_URL") or f"{ISSUER}/_sso/jwks.json"

# Caches the keys; fetches them again when a token names a key it does not hold.
keys = jwt.PyJWKClient(JWKS_URL)


def verify_customer_token(token: str) -> dict:
    # An X-Customer-Token, not another kind of token (checked before anything else).
    if jwt.get_unverified_header(token).get("typ") != "customer+jwt":
        raise jwt.InvalidTokenError("not an X-Customer-Token (typ)")
    return jwt.decode(
        token,
        keys.get_signing_key_from_jwt(token).key,
        algorithms=["ES256"],  # the gateway signs with ES256 only
        issuer=ISSUER,  # iss = the site's public_url
        audience=AUDIENCE,  # aud = the site name (an API token's `<site>:api` is refused)
        options={"require": ["iss", "aud", "sub", "sid", "exp", "iat"]},
        leeway=5,  # seconds
    )


if __name__ == "__main__":
    try:
        print(json.dumps(verify_customer_token(sys.argv[1] if len(sys.argv) > 1 else "")))
    except jwt.PyJWTError as err:
        print(f"refused: {type(err).__name__}: {err}", file=sys.stderr)
        sys.exit(1)
