#!/usr/bin/env bash
# The quickstart: builds the gateway, starts the local OpenID provider (port 9000),
# the demo storefront (port 3000) and the gateway (port 8080, admin 9100) with
# in-memory sessions, then waits. Ctrl-C stops everything. Every port must be free
# first; the script says which is not, and exits non-zero when the gateway does not
# become ready.
set -euo pipefail
cd "$(dirname "$0")/.."

# 127.0.0.1:PORT: what the demo listens on, and for what.
ports=(9000 "the local OpenID provider" 3000 "the demo storefront" 8080 "the gateway" 9100 "the gateway's admin listener")
taken=0
for ((i = 0; i < ${#ports[@]}; i += 2)); do
  port=${ports[i]}
  # A connection that opens means another program listens there.
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "demo: port $port (${ports[i+1]}) is taken by another program; stop it, or free the port, and run again" >&2
    taken=1
  fi
done
[ "$taken" = 0 ] || exit 1

scripts/setup.sh --demo

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

ready=0
for _ in $(seq 100); do
  if curl -fs http://127.0.0.1:9100/readyz >/dev/null 2>&1; then ready=1; break; fi
  # The gateway exited (it says why above): nothing to wait for.
  kill -0 "${pids[-1]}" 2>/dev/null || break
  sleep 0.2
done
if [ "$ready" = 0 ]; then
  echo "demo: the gateway did not become ready; its messages are above, the IdP's in .demo/idp.log" >&2
  curl -s http://127.0.0.1:9100/readyz >&2 || true
  exit 1
fi
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
