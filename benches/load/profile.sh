#!/usr/bin/env bash
# Profiles the gateway (perf, software clock) while wrk drives one configuration:
#   benches/load/profile.sh public|login [seconds] [connections]
# Prints the top symbols; the perf data stays in $BENCH_DIR for `perf report`.
# Loopback only, bounded in time. Needs the release build and linux-perf.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUTE="${1:-login}"; SECONDS_="${2:-10}"; CONNS="${3:-32}"
ulimit -n 65536 2>/dev/null || true
BENCH_DIR="$(mktemp -d /tmp/sso-profile.XXXXXX)"; chmod 755 "$BENCH_DIR"; mkdir -p "$BENCH_DIR/tmp-origin"
for f in nginx-origin.conf gateway.toml; do sed "s|BENCH_DIR|$BENCH_DIR|g" "benches/load/$f" >"$BENCH_DIR/$f"; done
pids=(); cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }; trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
taskset -c 0 nginx -c "$BENCH_DIR/nginx-origin.conf" & pids+=($!)
PORT=19000 CLIENT_SECRET=bench-client-secret REDIRECT_URIS="http://shop.localhost:18081/login/sso/callback" \
  taskset -c 0 node deploy/demo/idp.mjs >"$BENCH_DIR/idp.log" 2>&1 & pids+=($!)
taskset -c 1 target/release/sso-gateway run --config "$BENCH_DIR/gateway.toml" 2>"$BENCH_DIR/gateway.log" & GW=$!; pids+=($GW)
wait_port 18080; wait_port 19000; wait_port 18081
for _ in $(seq 100); do curl -fs http://127.0.0.1:18091/readyz >/dev/null && break; sleep 0.1; done
HDR=(-H "Host: shop.localhost")
if [ "$ROUTE" = login ]; then
  HDR+=(-H "Cookie: $(target/release/login_cookie http://shop.localhost:18081/account bench)"); URL=http://127.0.0.1:18081/account
else URL=http://127.0.0.1:18081/public; fi
taskset -c 0 wrk -t1 -c"$CONNS" -d"$((SECONDS_ + 2))s" "${HDR[@]}" "$URL" >"$BENCH_DIR/wrk.txt" &
sleep 1
perf record -F 2000 -g -p "$GW" -o "$BENCH_DIR/perf.data" -- sleep "$SECONDS_" 2>/dev/null
wait %4 2>/dev/null || sleep 2
grep -E "Requests/sec" "$BENCH_DIR/wrk.txt" || true
perf report -i "$BENCH_DIR/perf.data" --no-children --sort symbol --stdio 2>/dev/null | grep -E "^ +[0-9]" | head -40
echo "perf data: $BENCH_DIR/perf.data"
