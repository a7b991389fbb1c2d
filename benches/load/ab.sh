#!/usr/bin/env bash
# A/B of two sso-gateway binaries on the same machine in one run: the public route (b)
# and the login route with a valid session (c), rounds interleaved A, B, A, B, …, so
# machine drift hits both alike. The load generator and the origin run on CPU 0, the
# gateway on CPU 1. Loopback only; about 3 minutes; stops by itself.
#
#   benches/load/ab.sh OLD_BIN OLD_CONFIG NEW_BIN NEW_CONFIG [rounds] [seconds]
#
# The configs are benches/load/gateway.toml of each version (BENCH_DIR is replaced).
# Prints one line per measurement and the medians of c/b for each binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$#" -ge 4 ] || { echo "usage: $0 OLD_BIN OLD_CONFIG NEW_BIN NEW_CONFIG [rounds] [seconds]" >&2; exit 2; }
OLD_BIN=$1 OLD_CFG=$2 NEW_BIN=$3 NEW_CFG=$4 ROUNDS=${5:-3} SECS=${6:-10}
# A fresh machine: the load generator and the origin as run.sh installs them.
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk nginx >/dev/null
fi

BENCH_DIR="$(mktemp -d /tmp/sso-ab.XXXXXX)"
mkdir -p "$BENCH_DIR/tmp-origin"
sed "s|BENCH_DIR|$BENCH_DIR|g" benches/load/nginx-origin.conf >"$BENCH_DIR/nginx-origin.conf"
sed "s|BENCH_DIR|$BENCH_DIR|g" "$OLD_CFG" >"$BENCH_DIR/old.toml"
sed "s|BENCH_DIR|$BENCH_DIR|g" "$NEW_CFG" >"$BENCH_DIR/new.toml"

pids=()
gw=""
cleanup() { [ -n "$gw" ] && kill "$gw" 2>/dev/null; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

taskset -c 0 nginx -c "$BENCH_DIR/nginx-origin.conf" & pids+=($!)
PORT=19000 CLIENT_SECRET=bench-client-secret \
  REDIRECT_URIS="http://shop.localhost:18081/login/sso/callback" \
  taskset -c 0 node deploy/demo/idp.mjs >"$BENCH_DIR/idp.log" 2>&1 & pids+=($!)
wait_port 18080; wait_port 19000

measure() { # label bin config
  taskset -c 1 "$2" run --config "$3" 2>"$BENCH_DIR/$1.log" & gw=$!
  wait_port 18081
  for _ in $(seq 100); do curl -fs http://127.0.0.1:18091/readyz >/dev/null && break; sleep 0.1; done
  local cookie; cookie="$(target/release/login_cookie http://shop.localhost:18081/account bench)"
  local rps
  # (b) anonymous on a public route, (c) the session cookie on a login route.
  rps=$(taskset -c 0 wrk -t1 -c32 -d"${SECS}s" -H "Host: shop.localhost" \
    "http://127.0.0.1:18081/public" | awk '/Requests\/sec/ {print $2}')
  echo "$1 public $rps"
  rps=$(taskset -c 0 wrk -t1 -c32 -d"${SECS}s" -H "Host: shop.localhost" -H "Cookie: $cookie" \
    "http://127.0.0.1:18081/account" | awk '/Requests\/sec/ {print $2}')
  echo "$1 account $rps"
  kill "$gw"; wait "$gw" 2>/dev/null || true; gw=""
  sleep 0.5
}

: >"$BENCH_DIR/results"
for r in $(seq "$ROUNDS"); do
  measure old "$OLD_BIN" "$BENCH_DIR/old.toml" | tee -a "$BENCH_DIR/results"
  measure new "$NEW_BIN" "$BENCH_DIR/new.toml" | tee -a "$BENCH_DIR/results"
done
python3 - "$BENCH_DIR/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
for who in ("old", "new"):
    b = [float(r[2]) for r in rows if r[0] == who and r[1] == "public"]
    c = [float(r[2]) for r in rows if r[0] == who and r[1] == "account"]
    ratios = [cc / bb for bb, cc in zip(b, c)]
    print(f"{who}: b median {statistics.median(b):.0f} req/s, c median {statistics.median(c):.0f} req/s, "
          f"c/b per round {[round(x, 3) for x in ratios]}, median c/b {statistics.median(ratios):.3f}")
PY
