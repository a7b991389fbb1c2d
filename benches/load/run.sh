#!/usr/bin/env bash
# Reruns the load comparison of docs/benchmarks.md on this machine, side by side in
# one run: (a) origin direct, (b0) a bare Pingora pass-through, (b) sso-gateway public
# route, (c) sso-gateway login route with a valid session, (d) nginx reverse proxy,
# (e) Apache + mod_auth_openidc with a valid session; (bL, cL) the gateway and (dL)
# nginx with their access logs on; (f) the login route with sessions in Redis + L1.
# The load generator and the origin run on CPU 0, the proxy under test on CPU 1.
# Loopback only; about 10 minutes; stops by itself.
# Output: benches/results/<date>/{results.json,table.md,load.png,logins-*.json}.
# BEFORE=OLD_BIN measures an earlier build alongside (its b, c and bL, and its CPU per
# login). Arguments go to compare.py (`--rounds N`, `--seconds S`).
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/setup.sh

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx)
[ -x /usr/sbin/apache2 ] || need+=(apache2)
[ -f /usr/lib/apache2/modules/mod_auth_openidc.so ] || need+=(libapache2-mod-auth-openidc)
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null || need+=(python3-matplotlib)
command -v taskset >/dev/null || need+=(util-linux)
if ((${#need[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  # Debian starts the packaged servers on port 80; they are not part of the benchmark.
  $SUDO service nginx stop >/dev/null 2>&1 || true
  $SUDO service apache2 stop >/dev/null 2>&1 || true
fi
OHA="$(command -v oha || echo "$HOME/.cargo/bin/oha")"
[ -x "$OHA" ] || cargo install oha --locked --version '^1.16'

cargo build --release --locked -p sso-gateway -p sso-benches --bins
ulimit -n 65536 || true

BENCH_DIR="$(mktemp -d /tmp/sso-bench.XXXXXX)"
chmod 755 "$BENCH_DIR"
mkdir -p "$BENCH_DIR/tmp-origin" "$BENCH_DIR/tmp-proxy"
for f in nginx-origin.conf nginx-proxy.conf nginx-proxy-logged.conf apache-openidc.conf gateway.toml gateway-redis.toml; do
  sed "s|BENCH_DIR|$BENCH_DIR|g" "benches/load/$f" >"$BENCH_DIR/$f"
done

pids=()
cleanup() {
  [ -f "$BENCH_DIR/apache.pid" ] && kill "$(cat "$BENCH_DIR/apache.pid")" 2>/dev/null || true
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

taskset -c 0 nginx -c "$BENCH_DIR/nginx-origin.conf" & pids+=($!)
PORT=19000 CLIENT_SECRET=bench-client-secret \
  REDIRECT_URIS="http://shop.localhost:18081/login/sso/callback,http://127.0.0.1:18084/protected/redirect_uri" \
  taskset -c 0 node deploy/demo/idp.mjs >"$BENCH_DIR/idp.log" 2>&1 & pids+=($!)
# Case (f) keeps sessions in the Redis on 127.0.0.1:6379 (gateway-redis.toml); one is
# started, pinned beside the load generator, when none answers there.
if ! redis-cli -p 6379 ping >/dev/null 2>&1; then
  taskset -c 0 redis-server --port 6379 --save '' --appendonly no >"$BENCH_DIR/redis.log" 2>&1 & pids+=($!)
fi
taskset -c 1 target/release/bare_pingora 127.0.0.1:18087 127.0.0.1:18080 2>"$BENCH_DIR/bare_pingora.log" & pids+=($!)
taskset -c 1 nginx -c "$BENCH_DIR/nginx-proxy.conf" & pids+=($!)
taskset -c 1 nginx -c "$BENCH_DIR/nginx-proxy-logged.conf" & pids+=($!)
wait_port 18080; wait_port 19000; wait_port 18083; wait_port 18086; wait_port 18087; wait_port 6379
taskset -c 1 /usr/sbin/apache2 -f "$BENCH_DIR/apache-openidc.conf" -k start
wait_port 18084
# Apache signs in through the gateway's IdP once; the gateway variants are started
# (and signed in to) one at a time by compare.py.
APACHE_COOKIE="$(target/release/login_cookie http://127.0.0.1:18084/protected/ bench)"

# RESULTS_DIR names the output directory (default: today's date), so a second run the
# same day does not overwrite the first.
OUT="${RESULTS_DIR:-benches/results/$(date -u +%Y-%m-%d)}"
/usr/bin/python3 benches/load/compare.py --out "$OUT" --oha "$OHA" --bench-dir "$BENCH_DIR" \
  --apache-cookie "$APACHE_COOKIE" ${BEFORE:+--before "$BEFORE"} "$@"
# Logins through the whole code flow, 4 at a time, against the real oidc-provider
# (which, being one Node process on CPU 0, bounds the rate; the gateway CPU per login
# is the gateway's own: the run time of its threads, from /proc). LOGINS per round
# (default 2000), two rounds, alternating with the BEFORE build when one is given.
logins() { # binary output
  taskset -c 1 "$1" run --config "$BENCH_DIR/gateway.toml" 2>"$BENCH_DIR/gateway-logins.log" & local gw=$!
  for _ in $(seq 100); do curl -fs http://127.0.0.1:18091/readyz >/dev/null && break; sleep 0.1; done
  target/release/login_rate http://shop.localhost:18081/account 4 "${LOGINS:-2000}" "$gw" | tee "$2"
  kill -INT "$gw"; wait "$gw" 2>/dev/null || true
}
for round in 1 2; do
  logins target/release/sso-gateway "$OUT/logins-$round.json"
  [ -n "${BEFORE:-}" ] && logins "$BEFORE" "$OUT/logins-before-$round.json"
done
echo "results in $OUT"
