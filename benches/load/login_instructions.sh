#!/usr/bin/env bash
# Instructions per complete login, counted by callgrind, and where they go: the
# gateway under callgrind (one worker thread), N logins through the whole code flow
# against the real oidc-provider (login start, callback with the code exchange and
# ID-token validation, session, first proxied request; `login_rate`, 1 at a time),
# then the functions that cost the most, inclusive. Loopback only; bounded.
#
#   benches/load/login_instructions.sh N BIN CONFIG
#
# CONFIG is that version's benches/load/gateway.toml (BENCH_DIR is replaced). The
# callgrind file stays in the printed directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=$1 BIN=$2 CFG=$3
command -v valgrind >/dev/null || { echo "login_instructions: apt-get install valgrind" >&2; exit 1; }
BENCH_DIR="$(mktemp -d /tmp/sso-login-instr.XXXXXX)"
sed "s|BENCH_DIR|$BENCH_DIR|g" "$CFG" >"$BENCH_DIR/gw.toml"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
source benches/load/origin_and_idp.sh
valgrind --tool=callgrind --callgrind-out-file="$BENCH_DIR/cg.%p" "$BIN" run --config "$BENCH_DIR/gw.toml" \
  2>"$BENCH_DIR/gw.log" & gw=$!; pids+=($gw)
wait_port 18081
for _ in $(seq 600); do curl -fs http://127.0.0.1:18091/readyz >/dev/null && break; sleep 0.2; done
# Warm-up: connections to the IdP, lazy statics, the first JWKS use.
target/release/login_rate http://shop.localhost:18081/account 1 3 "$gw" 0 >/dev/null
callgrind_control -z "$gw" >/dev/null
target/release/login_rate http://shop.localhost:18081/account 1 "$N" "$gw" 0 >"$BENCH_DIR/logins.json"
callgrind_control -d logins "$gw" >/dev/null
file="$(ls "$BENCH_DIR"/cg.*.1 | head -1)"
total=$(callgrind_annotate "$file" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
echo "$BIN: $((total / N)) instructions per login ($N logins)"
callgrind_annotate --inclusive=yes "$file" 2>/dev/null \
  | grep -E "sso_|openidconnect|jsonwebtoken|p256|ecdsa|rsa::|ring::|reqwest|hyper::|serde_json|sha2|hmac|chacha|rustls" \
  | head -60 | awk -v n="$N" '{gsub(",", "", $1); printf "%10d  %s\n", $1 / n, substr($0, index($0, "???:") + 4)}' | cut -c1-170
echo "callgrind file: $file"
