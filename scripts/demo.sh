#!/usr/bin/env bash
# The quickstart: builds the gateway, starts the local OpenID provider (port 9000),
# the demo storefront (port 3000) and the gateway (port 8080, admin 9100) with
# in-memory sessions, then waits. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

cargo build --release --locked -p sso-gateway
mkdir -p .demo
export SSO_COOKIE_SECRET="${SSO_COOKIE_SECRET:-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
export OIDC_CLIENT_SECRET="${OIDC_CLIENT_SECRET:-demo-client-secret}"
export CUSTOMER_LOGIN_SECRET="${CUSTOMER_LOGIN_SECRET:-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
export ECWID_CLIENT_SECRET="${ECWID_CLIENT_SECRET:-demo-ecwid-client-secret-0123456789}"

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

PORT=9000 CLIENT_SECRET="$OIDC_CLIENT_SECRET" \
  REDIRECT_URIS="http://shop.localhost:8080/login/sso/callback,http://outlet.localhost:8080/login/sso/callback" \
  POST_LOGOUT_REDIRECT_URIS="http://shop.localhost:8080/,http://outlet.localhost:8080/" \
  node deploy/demo/idp.mjs >.demo/idp.log 2>&1 & pids+=($!)
PORT=3000 MERCHANT_LOGIN_SECRET="$CUSTOMER_LOGIN_SECRET" node deploy/demo/storefront.mjs >.demo/storefront.log 2>&1 & pids+=($!)
for _ in $(seq 100); do curl -fs http://127.0.0.1:9000/.well-known/openid-configuration >/dev/null 2>&1 && break; sleep 0.1; done
target/release/sso-gateway check --config deploy/demo/gateway.toml
target/release/sso-gateway run --config deploy/demo/gateway.toml & pids+=($!)

for _ in $(seq 50); do curl -fs http://127.0.0.1:9100/readyz >/dev/null 2>&1 && break; sleep 0.2; done
cat <<MSG

  sso-gateway demo is running.
    Shop:      http://shop.localhost:8080/          (sign in at /account with any name)
    Merchant:  http://shop.localhost:8080/merchant  (the merchant's website: signs customers in with a JWT)
    Outlet:    http://outlet.localhost:8080/        (the group's second shop: signed in there, signed in here)
    Metrics:   http://127.0.0.1:9100/metrics
    Logs:      .demo/idp.log, .demo/storefront.log, and this terminal
  Ctrl-C stops it.

MSG
wait
